"""Posts to a team's chat channel through the delivery engine, on a fixed clock with scripted
channels, on SQLite and PostgreSQL: queued with the incident, retried, edited on every state
change, one per channel per batch, shown in the status report, and handed back on shutdown."""
from __future__ import annotations

import asyncio

import pytest

from channels.dispatcher import DispatcherConfig
from channels.registry import CHANNEL_TRAITS
from incidents.intake import TriggerRequest
from incidents.outbox import DeliveryOutcome
from incidents.service import Actor, EngineConfig
from storage.enums import Channel, DeliveryStatus, EventKind, NotificationKind
from storage.models import Incident, IncidentEvent, SlackInstallation, Team, TeamPost, User
from tests.fakes.channel import DELIVER, HANG, PERMANENT, TEMPORARY
from tests.integration.test_engine import Engine, _level, _person
from tests.integration.worker_support import wait_until


@pytest.fixture
async def engine(storage):
    return Engine()


@pytest.fixture
async def payments():
    team = await Team.acreate(name="payments", display_name="Payments", slack_channel="C0PAYMENTS1")
    await _person("alice", team, phone=False)
    return team


async def _posts(incident_id: int) -> list[TeamPost]:
    return await TeamPost._meta.database.list(
        TeamPost.select().where(TeamPost.incident == incident_id).order_by(TeamPost.id)
    )


def _team_posts(engine: Engine):
    return [payload for payload in engine.channels[Channel.SLACK].sent if payload.recipient.user_id is None]


async def _trigger(engine: Engine, title: str = "DB primary down") -> int:
    return (await engine.service.trigger(TriggerRequest(title=title, team="payments"))).incident.id


async def test_a_new_incident_is_posted_to_the_team_channel(engine, payments):
    await SlackInstallation.acreate(client_id="1.2", team_id="T1", bot_token="xoxb-1")
    engine.channels[Channel.SLACK].then(DELIVER)
    number = await _trigger(engine)
    await engine.tick()
    [payload] = _team_posts(engine)
    recipient = payload.recipient
    assert (recipient.slack_channel_id, recipient.slack_team_id, recipient.name) == ("C0PAYMENTS1", "T1", "Payments")
    assert payload.title == "DB primary down" and [action.id for action in payload.actions] == ["acknowledge", "resolve"]
    assert all(action.url is None for action in payload.actions)
    [post] = await _posts(number)
    assert (post.kind, post.status, post.attempt_count) == ("ALERT", "DELIVERED", 1)
    events = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where((IncidentEvent.incident == number) & (IncidentEvent.kind == EventKind.DELIVERED))
    )
    assert [event.message for event in events] == ["Posted to the team's Slack channel C0PAYMENTS1"]


async def test_every_state_change_edits_the_post_with_its_reference(engine, payments):
    number = await _trigger(engine)
    await engine.tick()
    [alert] = await _posts(number)
    await engine.service.acknowledge(number, Actor("Alice", "API"))
    await engine.service.resolve(number, Actor("Alice", "API"))
    await engine.tick()
    edits = [payload for payload in _team_posts(engine) if payload.kind == NotificationKind.STATUS]
    assert [edit.message_reference for edit in edits] == [alert.message_reference] * 2
    assert all(edit.status_text.startswith("Resolved by Alice via the API at") for edit in edits)
    assert all(edit.actions == () for edit in edits)
    assert [post.kind for post in await _posts(number)] == ["ALERT", "STATUS", "STATUS"]


async def test_a_card_not_posted_yet_is_drawn_in_its_current_state_and_needs_no_edit(engine, payments):
    number = await _trigger(engine)
    await engine.service.acknowledge(number, Actor("Alice", "API"))
    await engine.tick()
    [payload] = _team_posts(engine)
    assert (payload.kind, payload.incident_status) == ("ALERT", "ACKNOWLEDGED")
    assert [action.id for action in payload.actions] == ["resolve"]


async def test_an_edit_queued_while_the_card_was_being_posted_edits_it_once_posted(engine, payments):
    number = await _trigger(engine)
    [claimed] = [row for row in await engine.service.claim_due_notifications("slow-worker", 10) if row.kind == "ALERT"
                 and getattr(row, "post_id", None)]
    await engine.service.acknowledge(number, Actor("Alice", "API"))
    assert [post.message_reference for post in await _posts(number)] == [None, None]
    posted = DeliveryOutcome(success=True, provider_id="C0PAYMENTS1:1.2", message_reference={"channel": "C0PAYMENTS1", "ts": "1.2"})
    assert await engine.service.record_outcomes("slow-worker", [(claimed, posted)]) == [DeliveryStatus.SENT]
    await engine.tick()
    [edit] = _team_posts(engine)
    assert (edit.kind, edit.message_reference) == ("STATUS", {"channel": "C0PAYMENTS1", "ts": "1.2"})


async def test_temporary_failures_are_retried_and_a_permanent_one_is_on_the_timeline(engine, payments):
    engine.channels[Channel.SLACK].then(TEMPORARY, PERMANENT)
    number = await _trigger(engine)
    await engine.tick()
    [post] = await _posts(number)
    assert (post.status, post.attempt_count, post.error) == ("QUEUED", 1, "provider answered 503")
    await engine.tick(seconds=2)
    [post] = await _posts(number)
    assert (post.status, post.attempt_count, post.error) == ("FAILED", 2, "invalid address")
    [event] = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where((IncidentEvent.incident == number) & (IncidentEvent.kind == EventKind.FAILED))
    )
    assert event.message == "Post to the team's Slack channel C0PAYMENTS1 failed: invalid address"
    assert event.user_id is None and event.channel == "SLACK"
    email_pages = engine.channels[Channel.EMAIL].sent
    assert [page.user_id for page in email_pages] != [], "the people are paged whatever happens to the post"


async def test_a_post_whose_worker_died_with_every_attempt_used_fails(engine, payments):
    number = await _trigger(engine)
    rows = await engine.service.claim_due_notifications("dead-worker", 10)
    assert [getattr(row, "post_id", None) for row in rows][0] is not None
    await TeamPost.update(attempt_count=3).where(TeamPost.incident == number).aexecute()
    await engine.tick(seconds=61)
    [post] = await _posts(number)
    assert post.status == "FAILED" and post.error.startswith("gave up after 3 attempts")
    assert _team_posts(engine) == []


async def test_a_batch_takes_one_post_per_channel(engine, payments):
    for title in ("one", "two", "three"):
        await _trigger(engine, title)
    assert await engine.dispatcher.run_once() >= 1
    assert [payload.title for payload in _team_posts(engine)] == ["one"]
    await engine.tick()
    assert [payload.title for payload in _team_posts(engine)] == ["one", "two", "three"]


async def test_no_post_without_a_team_channel_or_with_slack_off(engine, payments):
    await Team.update(slack_channel=None).where(Team.id == payments.id).aexecute()
    first = await _trigger(engine)
    engine.service.config = EngineConfig(enabled_channels=frozenset({Channel.EMAIL}), channel_traits=CHANNEL_TRAITS)
    await Team.update(slack_channel="C0PAYMENTS1").where(Team.id == payments.id).aexecute()
    second = await _trigger(engine, "again")
    assert await _posts(first) == [] and await _posts(second) == []


async def test_the_workspace_is_the_teams_choice_else_the_only_installed_one(engine, payments):
    await SlackInstallation.acreate(client_id="1.2", team_id="T1", bot_token="xoxb-1")
    await SlackInstallation.acreate(client_id="1.2", team_id="T2", bot_token="xoxb-2")
    ambiguous = await _trigger(engine, "two workspaces")
    await Team.update(slack_workspace="T2").where(Team.id == payments.id).aexecute()
    chosen = await _trigger(engine, "chosen")
    assert [post.workspace for post in await _posts(ambiguous)] == [None]
    assert [post.workspace for post in await _posts(chosen)] == ["T2"]


async def test_the_status_report_lists_the_posts(engine, payments):
    engine.channels[Channel.SLACK].then(PERMANENT)
    number = await _trigger(engine)
    await engine.tick()
    report = await engine.service.status(number)
    [line] = report.team_posts
    assert (line.channel, line.destination, line.kind, line.status, line.error) == (
        "SLACK", "C0PAYMENTS1", "ALERT", "FAILED", "invalid address",
    )


async def test_stopping_hands_unfinished_posts_and_pages_back_to_the_queue(engine, payments):
    engine.channels[Channel.SLACK].then(HANG)
    engine.channels[Channel.EMAIL].then(HANG)
    engine.dispatcher.config = DispatcherConfig(send_timeout=30, shutdown_grace=0.1)
    number = await _trigger(engine)
    task = asyncio.create_task(engine.dispatcher.run())
    await wait_until(lambda: len(engine.channels[Channel.EMAIL].sent) + len(_team_posts(engine)) >= 2, 10,
                     "the page and the post to be sent")
    await engine.dispatcher.stop(task)
    [post] = await _posts(number)
    assert (post.status, post.claimed_by, post.lease_expires_at) == (DeliveryStatus.QUEUED, None, None)
    report = await engine.service.status(number)
    assert [(line.channel, line.status) for line in report.notifications] == [("EMAIL", "QUEUED")]


async def test_the_queue_depth_counts_waiting_posts(engine, payments):
    await _trigger(engine)
    engine.clock.advance(seconds=30)
    assert await engine.service.queue_stats() == (2, 30.0), "alice's email page and the team post"
    await engine.tick()
    assert await engine.service.queue_stats() == (0, 0.0)


async def test_escalating_to_the_next_level_edits_the_card_to_show_it(engine, payments):
    bob = await _person("bob", payments, phone=False)
    alice = await User.aget(User.handle == "alice")
    await _level(payments, 1, 5, alice)
    await _level(payments, 2, 5, bob)
    number = await _trigger(engine)
    await engine.tick()
    await engine.tick(minutes=5)
    assert (await Incident.aget_by_id(number)).escalation_level == 2
    [alert, edit] = _team_posts(engine)
    assert (alert.escalation_level, edit.kind, edit.escalation_level) == (1, "STATUS", 2)
    assert edit.message_reference == alert_reference(await _posts(number))
    assert edit.status_text is None and [action.id for action in edit.actions] == ["acknowledge", "resolve"]


def alert_reference(posts: list[TeamPost]) -> dict:
    [alert] = [post for post in posts if post.kind == "ALERT"]
    return alert.message_reference
