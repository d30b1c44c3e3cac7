"""Commands as a person sends them from any surface, carried out against the engine."""
from __future__ import annotations

import pytest

from bot.actions import run_command
from bot.commands import parse_command
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.enums import Channel, NotificationKind
from storage.models import Incident, NotificationLog, Team, User
from tests.integration.test_engine import Engine, _person


@pytest.fixture
async def setup(storage):
    engine = Engine()
    payments = await Team.acreate(name="payments", display_name="Payments")
    alice = await _person("alice", payments)
    outsider = await User.acreate(handle="olivia", name="Olivia", email="olivia@example.com")
    incident = (await engine.service.trigger(TriggerRequest(title="DB down", team="payments"))).incident
    await engine.tick()
    return engine, alice, outsider, incident


async def _say(engine, text, user, via="SMS"):
    return await run_command(engine.service, parse_command(text), Actor(user.name, via, user.id))


async def test_a_bare_ack_acknowledges_the_latest_page_sent_on_that_channel(setup):
    engine, alice, _, incident = setup
    assert await _say(engine, "ack", alice, via="SMS") == "No page was sent to you here yet; say ack 42 to name the incident."
    answer = await _say(engine, "ack", alice, via="EMAIL")
    assert answer == f"#{incident.id} acknowledged by Alice via email."
    assert (await Incident.aget_by_id(incident.id)).status == "ACKNOWLEDGED"
    again = await _say(engine, f"ack {incident.id}", alice)
    assert again.startswith(f"#{incident.id} was already acknowledged by Alice via email at ")


async def test_someone_neither_on_the_team_nor_paged_is_refused_politely(setup):
    engine, _, outsider, incident = setup
    answer = await _say(engine, f"resolve {incident.id}", outsider)
    assert answer.startswith(f"Sorry, you can't act on #{incident.id}")
    assert (await Incident.aget_by_id(incident.id)).status == "TRIGGERED"


async def test_status_and_list_answer_with_the_grid_and_the_open_incidents(setup):
    engine, alice, _, incident = setup
    grid = await _say(engine, f"status {incident.id}", alice)
    assert "Alice" in grid and "EMAIL" in grid and "SENT" in grid
    assert await _say(engine, "status 999", alice) == "There is no incident #999."
    assert f"#{incident.id} HIGH · DB down [TRIGGERED]" in await _say(engine, "list", alice)


async def test_test_pages_every_channel_that_reaches_me_and_nobody_else(setup):
    engine, alice, _, _ = setup
    answer = await _say(engine, "test", alice)
    assert answer == "Test page on its way to: email, sms, voice."
    await engine.tick()
    tests = [payload for channel in engine.channels.values() for payload in channel.sent if payload.kind == NotificationKind.TEST]
    assert sorted(payload.recipient.name for payload in tests) == ["Alice"] * 3
    assert all(payload.actions == () and payload.status_text is None for payload in tests)
    rows = await NotificationLog._meta.database.list(NotificationLog.select().where(NotificationLog.kind == NotificationKind.TEST))
    assert {(row.channel, row.status) for row in rows} == {("EMAIL", "SENT"), ("SMS", "SENT"), ("VOICE", "SENT")}
    assert Channel.SLACK not in {row.channel for row in rows}
