"""A real Prometheus Alertmanager (Debian's 0.25 binary) with a PagerDuty receiver and an Opsgenie
receiver pointed at Ackbot — each changed in one setting only (``url`` / ``api_url``) — on SQLite
and PostgreSQL: alerts fired, joined and resolved through Alertmanager's API open, deduplicate,
update and resolve incidents. Fails, rather than skips, without the binary."""
from __future__ import annotations

import pytest

from app import create_app
from incidents import api_keys
from storage.enums import Channel
from storage.models import Incident, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.integration.alertmanager_support import (
    alert,
    alertmanager_config,
    eventually,
    resolved,
    running_alertmanager,
)

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    for name in ("payments", "platform"):
        team = await Team.acreate(name=name, display_name=name.title(), default_route=name == "platform")
        user = await User.acreate(handle=f"{name}-oncall", name=f"{name} on call", email=f"{name}@example.com")
        await TeamMember.acreate(team=team, user=user)
    await api_keys.ApiKeys().create("pagerduty", team="payments", key=ROUTING_KEY)
    await api_keys.ApiKeys().create("opsgenie", key=GENIE_KEY)
    return client


async def _incidents() -> list[Incident]:
    return await Incident._meta.database.list(Incident.select().order_by(Incident.id))


def _only(predicate):
    async def check():
        found = await _incidents()
        return found if len(found) == 1 and predicate(found[0]) else None

    return check


async def _fire_join_and_resolve(manager, joined, closed):
    """db-1 fires (one incident opens), db-2 joins (the same incident, ``joined``), both
    resolve (``closed``); returns the incident at each step."""
    db1 = alert("PostgresDown", "critical", instance="db-1", team="payments")
    db2 = alert("PostgresDown", "critical", instance="db-2", team="payments")
    await manager.fire(db1)
    [opened] = await eventually(_only(lambda incident: True), "an incident opened", manager=manager)
    await manager.fire(db1, db2)
    [grown] = await eventually(_only(joined), "the second alert reached the incident", manager=manager)
    await manager.fire(resolved(db1), resolved(db2))
    [ended] = await eventually(_only(closed), "the incident resolved", manager=manager)
    return opened, grown, ended


async def test_alertmanager_pagerduty_receiver(ackbot, tmp_path):
    receiver = {"name": "pagerduty", "pagerduty_configs": [{
        "routing_key": ROUTING_KEY, "url": str(ackbot.make_url("/v2/enqueue")),
        "severity": "{{ .CommonLabels.severity }}", "send_resolved": True,
    }]}
    async with running_alertmanager(alertmanager_config([receiver]), tmp_path) as manager:
        opened, grown, ended = await _fire_join_and_resolve(
            manager, lambda incident: incident.alert_count == 2, lambda incident: incident.status == "RESOLVED",
        )
    assert opened.title.startswith("[FIRING:1] PostgresDown")
    assert (opened.priority, opened.alert_count) == ("CRITICAL", 1)
    assert opened.dashboard_url.endswith("/#/alerts?receiver=pagerduty")
    assert "num_firing: 1" in opened.body
    assert (await Team.aget_by_id(opened.team_id)).name == "payments"
    assert ended.resolved_via == "PAGERDUTY"


@pytest.mark.parametrize("path", ["/", "/v2/alerts"])
async def test_alertmanager_opsgenie_receiver(ackbot, tmp_path, path):
    """``api_url`` is Ackbot's base URL, or the ``…/v2/alerts`` URL Grafana is given."""
    receiver = {"name": "opsgenie", "opsgenie_configs": [{
        "api_key": GENIE_KEY, "api_url": str(ackbot.make_url(path)), "update_alerts": True, "send_resolved": True,
        "priority": "P2", "responders": [{"name": "{{ .CommonLabels.team }}", "type": "team"}],
    }]}
    async with running_alertmanager(alertmanager_config([receiver]), tmp_path) as manager:
        opened, grown, ended = await _fire_join_and_resolve(
            manager, lambda incident: incident.title.startswith("[FIRING:2]"),
            lambda incident: incident.status == "RESOLVED",
        )
    assert opened.title.startswith("[FIRING:1] PostgresDown")
    assert opened.priority == "HIGH"
    assert (await Team.aget_by_id(opened.team_id)).name == "payments"
    assert grown.alert_count >= 2
    assert ended.resolved_via == "OPSGENIE"
