"""The delivery engine end to end on a fixed clock: trigger → outbox → scripted channels →
records → escalation → acknowledge. Runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from channels.dispatcher import Dispatcher, DispatcherConfig
from channels.registry import CHANNEL_TRAITS
from incidents.heartbeats import Heartbeats
from incidents.intake import TriggerRequest
from incidents.service import Actor, EngineConfig, IncidentNotFound, IncidentService
from storage.database import database
from storage.enums import Channel, DeliveryStatus, EventKind, IncidentStatus, NotificationKind
from storage.models import (
    ChannelPreference,
    EscalationLevel,
    EscalationTarget,
    Incident,
    IncidentEvent,
    NotificationLog,
    SlackConnection,
    Team,
    TeamMember,
    User,
)
from tests.fakes.channel import HANG, PERMANENT, TEMPORARY, FixedClock, ScriptedChannel


class Engine:
    def __init__(self):
        self.clock = FixedClock()
        self.channels = {channel: ScriptedChannel(channel) for channel in (Channel.EMAIL, Channel.SLACK, Channel.SMS, Channel.VOICE)}
        config = EngineConfig(
            enabled_channels=frozenset(self.channels), channel_traits=CHANNEL_TRAITS, tier_timeout=timedelta(minutes=5), max_attempts=3
        )
        self.service = IncidentService(config, clock=self.clock)
        self.dispatcher = Dispatcher(
            self.service, self.channels, DispatcherConfig(send_timeout=0.2), worker_id="test-worker",
            random_source=lambda: 0.0,
        )

    async def tick(self, **delta) -> int:
        """Move the clock, then let the dispatcher do everything that is due."""
        if delta:
            self.clock.advance(**delta)
        handled = 0
        while (count := await self.dispatcher.run_once()):
            handled += count
        return handled


async def _person(handle: str, team: Team, phone=True, slack=False) -> User:
    user = await User.acreate(
        handle=handle, name=handle.title(), email=f"{handle}@example.com",
        phone="+15550100" + str(len(handle)) if phone else None,
    )
    await TeamMember.acreate(team=team, user=user)
    if slack:
        await SlackConnection.acreate(user=user, slack_user_id=f"U{handle.upper()}", slack_team_id="T1")
    return user


async def _level(team: Team, level: int, delay: int, *users: User) -> None:
    row = await EscalationLevel.acreate(team=team, level=level, delay_minutes=delay)
    for user in users:
        await EscalationTarget.acreate(escalation_level=row, user=user)


@pytest.fixture
async def engine(storage):
    return Engine()


@pytest.fixture
async def payments():
    return await Team.acreate(name="payments", display_name="Payments")


async def _rows(incident_id: int, kind=NotificationKind.ALERT) -> list[NotificationLog]:
    query = NotificationLog.select().where(
        (NotificationLog.incident == incident_id) & (NotificationLog.kind == kind)
    ).order_by(NotificationLog.id)
    return list(await NotificationLog._meta.database.list(query))


def _grid(rows) -> set[tuple[int, str, str]]:
    return {(row.user_id, row.channel, row.status) for row in rows}


async def _events(incident_id: int) -> list[str]:
    query = IncidentEvent.select().where(IncidentEvent.incident == incident_id).order_by(IncidentEvent.id)
    return [event.kind for event in await IncidentEvent._meta.database.list(query)]


class SlowChannel(ScriptedChannel):
    """Every send takes ``delay`` seconds: a backlog takes a while to drain."""

    def __init__(self, name: str, delay: float):
        super().__init__(name)
        self.delay = delay

    async def deliver(self, payload):
        await asyncio.sleep(self.delay)
        return await super().deliver(payload)


@pytest.mark.timeout(30)
async def test_a_heartbeat_falling_silent_while_a_backlog_drains_is_paged_before_the_backlog_is_done(storage, payments):
    """While batches follow each other at once, the checks before a claim that found nothing
    are spaced out (``drain_check_interval``), not dropped until the backlog is gone."""
    clock = FixedClock()
    email = SlowChannel(Channel.EMAIL, delay=0.02)
    config = EngineConfig(enabled_channels=frozenset({Channel.EMAIL}), channel_traits=CHANNEL_TRAITS,
                          tier_timeout=timedelta(minutes=5), max_attempts=3)
    service = IncidentService(config, clock=clock)
    dispatcher = Dispatcher(service, {Channel.EMAIL: email}, DispatcherConfig(batch_size=2, drain_check_interval=0.1))
    alice = await _person("alice", payments, phone=False)
    await _level(payments, 1, 15, alice)
    await Heartbeats(clock).create("nightly-backup", "payments", timedelta(minutes=1), None)
    for index in range(40):
        await service.trigger(TriggerRequest(title=f"backlog {index}", team="payments"))

    task = asyncio.create_task(dispatcher.run())
    while not email.sent:
        await asyncio.sleep(0.005)
    clock.advance(minutes=2)  # the heartbeat falls silent; the backlog is far from drained
    opened = Incident.select().where(Incident.title.contains("nightly-backup"))
    while not await database.run(opened.exists):
        await asyncio.sleep(0.005)
    sent_when_opened = len(email.sent)
    while len(email.sent) < 41:
        await asyncio.sleep(0.01)
    await dispatcher.stop(task)

    assert sent_when_opened < 35, "the silence was found only once the backlog had drained"
    assert "nightly-backup" in email.sent[-1].title  # queued last, so sent after the older pages


async def test_trigger_pages_the_first_level_on_primary_channels(engine, payments):
    alice = await _person("alice", payments, slack=True)
    await _level(payments, 1, 15, alice)
    outcome = await engine.service.trigger(TriggerRequest(title="DB primary down", service="db", team="payments"))
    assert outcome.created
    assert await engine.tick() == 2
    rows = await _rows(outcome.incident.id)
    assert _grid(rows) == {(alice.id, "EMAIL", "SENT"), (alice.id, "SLACK", "SENT")}
    assert all(row.attempt_count == 1 and row.provider_id and row.escalation_level == 1 for row in rows)
    sent = engine.channels[Channel.SLACK].sent[0]
    assert (sent.title, sent.team_name, sent.recipient.slack_user_id) == ("DB primary down", "Payments", "UALICE")
    assert [action.id for action in sent.actions] == ["acknowledge", "resolve"]
    assert await _events(outcome.incident.id) == [EventKind.TRIGGERED, EventKind.NOTIFIED]


async def test_all_primary_channels_failing_queues_sms_at_once(engine, payments):
    alice = await _person("alice", payments, slack=True)
    engine.channels[Channel.EMAIL].default = PERMANENT
    engine.channels[Channel.SLACK].default = PERMANENT
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    rows = await _rows(incident.id)
    assert _grid(rows) == {
        (alice.id, "EMAIL", "FAILED"), (alice.id, "SLACK", "FAILED"), (alice.id, "SMS", "SENT"),
    }
    assert [row.tier for row in rows if row.channel == "SMS"] == ["secondary"]


async def test_unanswered_pages_climb_tiers_then_levels_on_time(engine, payments):
    alice = await _person("alice", payments)
    bob = await _person("bob", payments)
    await _level(payments, 1, 15, alice)
    await _level(payments, 2, 15, bob)
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    assert _grid(await _rows(incident.id)) == {(alice.id, "EMAIL", "SENT")}

    await engine.tick(minutes=4, seconds=59)
    assert len(await _rows(incident.id)) == 1
    await engine.tick(seconds=1)
    assert (alice.id, "SMS", "SENT") in _grid(await _rows(incident.id))
    await engine.tick(minutes=5)
    assert (alice.id, "VOICE", "SENT") in _grid(await _rows(incident.id))
    assert not any(row.user_id == bob.id for row in await _rows(incident.id))

    await engine.tick(minutes=5)
    rows = await _rows(incident.id)
    assert {(row.channel, row.escalation_level) for row in rows if row.user_id == bob.id} == {("EMAIL", 2)}
    stored = await Incident.aget_by_id(incident.id)
    assert stored.escalation_level == 2
    assert EventKind.ESCALATED in await _events(incident.id)


async def test_acknowledge_cancels_pending_pages_and_a_second_changes_nothing(engine, payments):
    alice = await _person("alice", payments, slack=True)
    bob = await _person("bob", payments)
    engine.channels[Channel.EMAIL].default = TEMPORARY
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    first = await engine.service.acknowledge(incident.id, Actor("Alice", "SLACK", alice.id))
    assert first.changed and first.incident.status == IncidentStatus.ACKNOWLEDGED
    rows = await _rows(incident.id)
    assert {row.status for row in rows if row.channel == "EMAIL"} == {DeliveryStatus.CANCELLED}

    notices = await _rows(incident.id, NotificationKind.STATUS)
    assert _grid(notices) == {(alice.id, "SLACK", "QUEUED")}
    slack_alert = next(row for row in rows if row.channel == "SLACK")
    assert notices[0].message_reference == {"id": slack_alert.provider_id}
    await engine.tick(minutes=10)
    notice = engine.channels[Channel.SLACK].sent[-1]
    assert notice.kind == NotificationKind.STATUS
    assert notice.status_text.startswith("Acknowledged by Alice via Slack at ")
    assert [action.id for action in notice.actions] == ["resolve"]
    assert not any(row.status == "QUEUED" for row in await _rows(incident.id))
    assert {row.status for row in await _rows(incident.id) if row.user_id == bob.id} == {DeliveryStatus.CANCELLED}

    before = await _rows(incident.id)
    second = await engine.service.acknowledge(incident.id, Actor("Bob", "EMAIL", bob.id))
    assert not second.changed and second.by == "Alice" and second.via == "SLACK"
    assert _grid(await _rows(incident.id)) == _grid(before)
    assert (await _events(incident.id)).count(EventKind.ACKNOWLEDGED) == 1


async def test_a_repeated_dedup_key_pages_nobody_again(engine, payments):
    await _person("alice", payments)
    request = TriggerRequest(title="disk full", team="payments", dedup_key="disk-1")
    first = await engine.service.trigger(request)
    await engine.tick()
    repeat = await engine.service.trigger(request)
    assert not repeat.created and repeat.incident.id == first.incident.id and repeat.incident.alert_count == 2
    await engine.tick()
    assert len(engine.channels[Channel.EMAIL].sent) == 1
    assert EventKind.REPEATED in await _events(first.incident.id)

    await engine.service.resolve(first.incident.id, Actor("monitoring", "API"))
    reopened = await engine.service.trigger(request)
    assert reopened.created and reopened.incident.id != first.incident.id


async def test_temporary_failures_back_off_and_stop_at_the_attempt_cap(engine, payments):
    await _person("alice", payments, phone=False)
    engine.channels[Channel.EMAIL].default = TEMPORARY
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    row = (await _rows(incident.id))[0]
    assert (row.status, row.attempt_count, row.error) == ("QUEUED", 1, "provider answered 503")
    assert row.next_attempt_at == engine.clock.now + timedelta(seconds=1)
    await engine.tick(seconds=1)
    await engine.tick(seconds=2)
    row = (await _rows(incident.id))[0]
    assert (row.status, row.attempt_count) == ("FAILED", 3)
    assert "after 3 attempts" in row.error
    assert len(engine.channels[Channel.EMAIL].sent) == 3


async def test_a_hanging_provider_times_out_as_a_temporary_failure(engine, payments):
    await _person("alice", payments, phone=False)
    engine.channels[Channel.EMAIL].then(HANG)
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    row = (await _rows(incident.id))[0]
    assert (row.status, row.error) == ("QUEUED", "no answer within 0.2s")
    await engine.tick(seconds=5)
    assert (await _rows(incident.id))[0].status == "SENT"


async def test_a_person_no_channel_reaches_is_on_the_timeline(engine, payments):
    carol = await User.acreate(handle="carol", name="Carol")
    await TeamMember.acreate(team=payments, user=carol)
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    events = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where(IncidentEvent.kind == EventKind.UNREACHABLE)
    )
    assert [event.message for event in events] == ["No channel can reach Carol (level 1)"]
    assert await _rows(incident.id) == []


async def test_user_preferences_override_the_default_tiers(engine, payments):
    alice = await _person("alice", payments, slack=True)
    await ChannelPreference.acreate(user=alice, channel="SMS", tier="primary")
    await ChannelPreference.acreate(user=alice, channel="EMAIL", tier="secondary")
    incident = (await engine.service.trigger(TriggerRequest(title="x", team="payments"))).incident
    await engine.tick()
    assert _grid(await _rows(incident.id)) == {(alice.id, "SMS", "SENT")}


async def test_unknown_incidents_are_refused_and_unknown_teams_routed(engine):
    with pytest.raises(IncidentNotFound):
        await engine.service.acknowledge(999, Actor("x", "API"))
    outcome = await engine.service.trigger(TriggerRequest(title="x", team="nope"))
    assert (outcome.created, outcome.team_name, outcome.incident.team_id) == (True, None, None)
    assert outcome.reason == "No team 'nope' and no default team: nobody was paged"
    events = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where(IncidentEvent.kind == EventKind.UNREACHABLE)
    )
    assert [event.message for event in events] == [outcome.reason]
