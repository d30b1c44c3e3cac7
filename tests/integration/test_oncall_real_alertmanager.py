"""A real Prometheus Alertmanager whose receivers were set up for Grafana OnCall, with only the
host changed to Ackbot's: its integration URL opens and resolves an incident routed by the key's
team, and its Watchdog pings the heartbeat at OnCall's heartbeat URL. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from app import create_app
from incidents import api_keys, heartbeats
from storage.database import database
from storage.enums import Channel
from storage.models import Heartbeat, Incident, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.integration.alertmanager_support import alert, alertmanager_config, eventually, resolved, running_alertmanager

ONCALL_KEY = "Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1"


def _oncall_receiver(name: str, url: str) -> dict:
    """As OnCall's docs have it: the integration URL alone, no credentials."""
    return {"name": name, "webhook_configs": [{"url": url, "send_resolved": True}]}


async def test_an_alertmanager_set_up_for_oncall_works_with_the_host_changed(aiohttp_client, settings, tmp_path):
    ackbot = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    team = await Team.acreate(name="platform", display_name="Platform")
    await TeamMember.acreate(team=team, user=await User.acreate(handle="alice", name="Alice", email="alice@example.com"))
    await api_keys.ApiKeys().create("oncall-prometheus", team="platform", key=ONCALL_KEY)
    await heartbeats.Heartbeats().create("prometheus-watchdog", "platform", timedelta(minutes=10), ONCALL_KEY)
    config = alertmanager_config([
        _oncall_receiver("oncall", str(ackbot.make_url(f"/integrations/v1/alertmanager/{ONCALL_KEY}/"))),
        _oncall_receiver("oncall-heartbeat", str(ackbot.make_url(f"/integrations/v1/alertmanager/{ONCALL_KEY}/heartbeat/"))),
    ])
    async with running_alertmanager(config, tmp_path) as manager:
        disk = alert("DiskFull", "critical", instance="node-1")
        await manager.fire(disk, alert("Watchdog", "none"))

        async def opened():
            return await database.run(lambda: list(Incident.select().where(Incident.title == "DiskFull is firing")))

        [incident] = await eventually(opened, "the DiskFull incident opened", manager=manager)
        assert (incident.team_id, incident.priority) == (team.id, "CRITICAL")

        async def pinged():
            return (await Heartbeat.aget(Heartbeat.name == "prometheus-watchdog")).last_ping_at

        await eventually(pinged, "the Watchdog pinged the heartbeat", manager=manager)

        await manager.fire(resolved(disk))

        async def closed():
            found = await Incident.aget_by_id(incident.id)
            return found if found.status == "RESOLVED" else None

        incident = await eventually(closed, "the incident resolved", manager=manager)
        assert incident.resolved_via == "ONCALL"
