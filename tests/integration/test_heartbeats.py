"""Heartbeats end to end through the real application on a fixed clock, on SQLite and
PostgreSQL: pings over both URLs, a silence opening one incident (also with several instances
checking one database), the next ping resolving it, and the command line."""
from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest

from app import create_app, main
from bot.app_keys import DISPATCHER_KEY
from channels.registry import CHANNEL_TRAITS
from incidents import heartbeats
from incidents.service import EngineConfig, IncidentService
from storage.database import database
from storage.enums import Channel, IncidentStatus
from storage.migrations import SchemaMigration, migrate
from storage.models import Heartbeat, Incident, IncidentEvent, Team, TeamMember, User
from tests.fakes.channel import FixedClock, ScriptedChannel

KEPT_ONCALL_KEY = "Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1"


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def email():
    return ScriptedChannel(Channel.EMAIL)


@pytest.fixture
async def app_client(aiohttp_client, settings, email, clock):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: email}, clock=clock))
    team = await Team.acreate(name="platform", display_name="Platform")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=alice)
    client.dispatcher = client.app[DISPATCHER_KEY]
    return client


async def _tick(client, clock, **delta) -> None:
    clock.advance(**delta)
    while await client.dispatcher.run_once():
        pass


async def _incidents() -> list[Incident]:
    return await database.run(lambda: list(Incident.select().order_by(Incident.id)))


async def test_a_silent_heartbeat_opens_one_incident_and_the_next_ping_resolves_it(app_client, clock, email):
    key = await heartbeats.Heartbeats(clock).create("nightly-backup", "platform", timedelta(minutes=10), None)
    await _tick(app_client, clock, minutes=9)
    ping = await app_client.get(f"/heartbeats/{key}")
    assert ping.status == 200 and await ping.json() == {"heartbeat": "nightly-backup", "resolved": None}
    await _tick(app_client, clock, minutes=9)
    assert await _incidents() == []

    await _tick(app_client, clock, minutes=2)
    [incident] = await _incidents()
    assert incident.title == "No heartbeat from nightly-backup for 10 minutes"
    platform = await Team.aget(Team.name == "platform")
    assert incident.status == IncidentStatus.TRIGGERED and incident.team_id == platform.id
    assert [payload.title for payload in email.sent] == ["No heartbeat from nightly-backup for 10 minutes"]
    await _tick(app_client, clock, minutes=30)
    assert [(row.id, row.alert_count) for row in await _incidents()] == [(incident.id, 1)]

    ping = await app_client.post(f"/heartbeats/{key}")
    assert await ping.json() == {"heartbeat": "nightly-backup", "resolved": incident.id}
    [resolved] = await _incidents()
    assert resolved.status == IncidentStatus.RESOLVED
    assert resolved.resolved_by_name == "heartbeat nightly-backup"
    events = await database.run(lambda: [row.message for row in IncidentEvent.select().where(IncidentEvent.incident == incident.id)])
    assert "Resolved by heartbeat nightly-backup via a ping" in events

    await _tick(app_client, clock, minutes=11)
    assert [row.status for row in await _incidents()] == [IncidentStatus.RESOLVED, IncidentStatus.TRIGGERED]


async def test_oncall_heartbeat_urls_answer_as_oncall_does_with_a_kept_key(app_client, clock):
    await heartbeats.Heartbeats(clock).create("watchdog", None, timedelta(minutes=5), KEPT_ONCALL_KEY)
    await _tick(app_client, clock, minutes=6)
    [incident] = await _incidents()
    assert incident.team_id is None and incident.title == "No heartbeat from watchdog for 5 minutes"

    for path in (f"/integrations/v1/alertmanager/{KEPT_ONCALL_KEY}/heartbeat/",
                 f"/integrations/v1/webhook/{KEPT_ONCALL_KEY}/heartbeat"):
        got = await app_client.get(path)
        assert got.status == 200 and await got.json() == ":)"
        posted = await app_client.post(path, json={"anything": True})
        assert posted.status == 200 and await posted.read() == b""
    assert [row.status for row in await _incidents()] == [IncidentStatus.RESOLVED]
    stored = await Heartbeat.aget(Heartbeat.name == "watchdog")
    assert (stored.last_ping_at, stored.deadline_at, stored.expired_at) == (clock(), clock() + timedelta(minutes=5), None)


async def test_an_unknown_key_is_refused_and_changes_nothing(app_client, clock):
    await heartbeats.Heartbeats(clock).create("watchdog", None, timedelta(minutes=5), KEPT_ONCALL_KEY)
    for path, status in (("/heartbeats/not-a-real-key-at-all", 404), ("/heartbeats/short", 404),
                         ("/integrations/v1/webhook/Yr3kq9ZtLm2Pw8YbVn4Cd7Hs1/heartbeat/", 403)):
        response = await app_client.post(path)
        assert response.status == status and "error" in await response.json()
    stored = await Heartbeat.aget(Heartbeat.name == "watchdog")
    assert stored.last_ping_at is None


async def test_two_instances_checking_one_database_open_one_incident(storage, clock):
    team = await Team.acreate(name="platform", display_name="Platform")
    await TeamMember.acreate(team=team, user=await User.acreate(handle="alice", name="Alice", email="alice@example.com"))
    for name in ("backup", "cron", "etl"):
        await heartbeats.Heartbeats(clock).create(name, "platform", timedelta(minutes=10), None)
    config = EngineConfig(enabled_channels=frozenset({Channel.EMAIL}), channel_traits=CHANNEL_TRAITS)
    instances = [IncidentService(config, clock=clock) for _ in range(2)]
    clock.advance(minutes=11)
    opened = await asyncio.gather(*(instance.check_heartbeats() for instance in instances for _ in range(3)))
    assert sum(opened) == 3
    rows = await _incidents()
    assert sorted(row.title for row in rows) == [f"No heartbeat from {name} for 10 minutes" for name in ("backup", "cron", "etl")]
    assert {row.alert_count for row in rows} == {1}
    assert await instances[1].check_heartbeats() == 0


def test_heartbeat_commands(tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("ACKBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://ackbot.example.com")
    people = tmp_path / "people.toml"
    people.write_text('[[teams]]\nname = "platform"\ndisplay_name = "Platform"\n')
    assert main(["directory", "apply", str(people)]) == 0
    capsys.readouterr()

    assert main(["heartbeat", "create", "nightly-backup", "--team", "platform", "--timeout", "10m"]) == 0
    url, note = capsys.readouterr().out.splitlines()
    assert url.startswith("https://ackbot.example.com/heartbeats/") and "every 10 minutes" in note
    key = url.rsplit("/", 1)[1]
    assert f"/integrations/v1/webhook/{key}/heartbeat/" in note
    assert main(["heartbeat", "create", "watchdog", "--timeout", "5m", "--key", KEPT_ONCALL_KEY]) == 0
    assert KEPT_ONCALL_KEY in capsys.readouterr().out

    assert main(["heartbeat", "list"]) == 0
    listing = capsys.readouterr().out
    assert "nightly-backup  team platform  every 10 minutes" in listing and "no ping yet" in listing
    assert f"watchdog  team (default)  every 5 minutes  {KEPT_ONCALL_KEY[:4]}…  no ping yet" in listing
    assert key not in listing and KEPT_ONCALL_KEY not in listing

    for argv, message in (
        (["heartbeat", "create", "nightly-backup", "--timeout", "10m"], "already exists"),
        (["heartbeat", "create", "x", "--team", "sre", "--timeout", "10m"], "no team named 'sre'"),
        (["heartbeat", "create", "x", "--timeout", "10 minutes"], "expected a timeout like 10m"),
        (["heartbeat", "create", "x", "--timeout", "5m", "--key", "short"], "16 to 128"),
        (["heartbeat", "remove", "nothing"], "no heartbeat named 'nothing'"),
    ):
        assert main(argv) == 1
        assert message in capsys.readouterr().err
    assert main(["heartbeat", "remove", "watchdog"]) == 0
    assert capsys.readouterr().out == "removed heartbeat 'watchdog'\n"
    assert main(["heartbeat", "list"]) == 0
    assert "watchdog" not in capsys.readouterr().out


async def test_a_database_from_before_heartbeats_is_brought_up_to_date(storage, clock):
    def downgrade():
        database.drop_tables([Heartbeat])
        SchemaMigration.delete().where(SchemaMigration.version == "m0006_heartbeats").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0006_heartbeats"]
    await heartbeats.Heartbeats(clock).create("backup", None, timedelta(minutes=10), None)
    assert [row.name for row, _ in await heartbeats.Heartbeats().all_heartbeats()] == ["backup"]
    assert await migrate() == []
