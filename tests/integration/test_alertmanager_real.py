"""A real Prometheus Alertmanager (Debian's 0.25 binary) pointed at Ackbot's webhook, on SQLite
and PostgreSQL: alerts fired and resolved through Alertmanager's API open, deduplicate, grow
and resolve incidents in Ackbot's database. Fails, rather than skips, without the binary."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from incidents import api_keys
from storage.enums import Channel
from storage.models import Incident, IncidentEvent, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.integration.alertmanager_support import (
    alert,
    alertmanager_config,
    eventually,
    resolved,
    running_alertmanager,
    webhook_receiver,
)


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    for name in ("payments", "platform"):
        team = await Team.acreate(name=name, display_name=name.title(), default_route=name == "platform")
        user = await User.acreate(handle=f"{name}-oncall", name=f"{name} on call", email=f"{name}@example.com")
        await TeamMember.acreate(team=team, user=user)
    client.key = await api_keys.ApiKeys().create("alertmanager")
    return client


async def _incidents() -> list[Incident]:
    return await Incident._meta.database.list(Incident.select().order_by(Incident.id))


async def _resent(incident_id: int) -> bool:
    query = IncidentEvent.select().where(
        (IncidentEvent.incident == incident_id) & IncidentEvent.message.startswith("Alert group sent again")
    )
    return await IncidentEvent._meta.database.count(query) > 0


async def test_alerts_fired_through_alertmanager_open_grow_and_resolve_one_incident(ackbot, tmp_path):
    url = str(ackbot.make_url("/webhooks/alertmanager"))
    config = alertmanager_config([webhook_receiver("ackbot", url, ackbot.key)], repeat_interval="2s")
    async with running_alertmanager(config, tmp_path) as manager:
        db1 = alert("PostgresDown", "warning", instance="db-1", team="payments")
        await manager.fire(db1)

        async def opened():
            found = await _incidents()
            return found if found and found[0].alert_count == 1 else None

        [incident] = await eventually(opened, "an incident opened", manager=manager)
        assert (incident.title, incident.priority, incident.status) == ("PostgresDown is firing", "MEDIUM", "TRIGGERED")
        assert incident.dashboard_url == "http://prometheus.example:9090/graph?g0.expr=PostgresDown"
        await eventually(lambda: _resent(incident.id), "Alertmanager re-sent the group (repeat_interval)", manager=manager)
        assert [found.alert_count for found in await _incidents()] == [1]

        db2 = alert("PostgresDown", "critical", instance="db-2", team="payments")
        await manager.fire(db1, db2)

        async def grown():
            found = await _incidents()
            return found if found and found[0].alert_count == 2 else None

        [incident] = await eventually(grown, "the second alert joined the incident", manager=manager)
        assert incident.priority == "CRITICAL"
        assert "db-1" in incident.body and "db-2" in incident.body

        await manager.fire(resolved(db1), resolved(db2))

        async def closed():
            found = await _incidents()
            return found if found and found[0].status == "RESOLVED" else None

        [incident] = await eventually(closed, "the incident resolved", manager=manager)
        assert (incident.resolved_via, incident.alert_count) == ("ALERTMANAGER", 2)
        team = await Team.aget_by_id(incident.team_id)
        assert team.name == "payments"


async def test_an_alert_naming_no_known_team_reaches_the_default_team(ackbot, tmp_path):
    url = str(ackbot.make_url("/webhooks/alertmanager"))
    config = alertmanager_config([webhook_receiver("ackbot", url, ackbot.key)])
    async with running_alertmanager(config, tmp_path) as manager:
        await manager.fire(alert("DiskFull", ends_in=timedelta(hours=1), instance="node-1", team="sre"))
        [incident] = await eventually(_incidents, "an incident opened", manager=manager)
        team = await Team.aget_by_id(incident.team_id)
        assert team.name == "platform"
        events = await IncidentEvent._meta.database.list(IncidentEvent.select().where(IncidentEvent.incident == incident.id))
        assert any("No team 'sre': routed to platform by default" in event.message for event in events)
