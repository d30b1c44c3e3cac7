"""Hand-off notices on SQLite and PostgreSQL: the incoming person told a lead time before, the
team's channel at the hand-off, each exactly once however many instances look."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from channels.registry import CHANNEL_TRAITS
from incidents.directory import PeopleDirectory
from incidents.service import EngineConfig, IncidentService
from storage.database import database
from storage.enums import Channel
from storage.models import HandoffNotice, NotificationLog, TeamPost, User
from tests.fakes.channel import FixedClock

PEOPLE = """
[[teams]]
name = "payments"
slack_channel = "C0PAYMENTS1"

[[schedules]]
name = "payments-primary"
time_zone = "Europe/Berlin"
team = "payments"

[[schedules.rotations]]
users = ["alice", "bob"]
start = "2026-11-27T09:00"
shift = "1d"

[[users]]
handle = "alice"
name = "Alice"
email = "alice@example.com"
time_zone = "America/New_York"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob"
email = "bob@example.com"
teams = ["payments"]
"""


async def rows(model) -> list:
    return await database.run(lambda: list(model.select().order_by(model.id)))


async def test_each_hand_off_is_announced_once_by_two_instances(storage, tmp_path):
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE)
    await PeopleDirectory().apply_file(path)
    clock = FixedClock(datetime(2026, 11, 28, 14, 0, tzinfo=UTC))  # mid Bob's day: nothing due
    config = EngineConfig(
        enabled_channels=frozenset({Channel.EMAIL, Channel.SLACK}), channel_traits=CHANNEL_TRAITS,
        handoff_lead=timedelta(minutes=15),
    )
    first, second = IncidentService(config, clock=clock), IncidentService(config, clock=clock)
    assert await first.announce_handoffs() == 0

    clock.now = datetime(2026, 11, 29, 7, 50, tzinfo=UTC)  # ten minutes before Alice's day
    assert sorted(await asyncio.gather(first.announce_handoffs(), second.announce_handoffs())) == [0, 1]
    (page,) = await rows(NotificationLog)
    alice = await User.aget(User.handle == "alice")
    assert (page.user_id, page.channel) == (alice.id, "EMAIL")
    notice = await database.run(lambda: page.incident)
    assert notice.title == "You are on call for payments-primary from Sun 29 Nov 03:00 EST"

    clock.now = datetime(2026, 11, 29, 8, 1, tzinfo=UTC)
    assert sorted(await asyncio.gather(first.announce_handoffs(), second.announce_handoffs())) == [0, 1]
    (post,) = await rows(TeamPost)
    assert (post.channel, post.destination) == ("SLACK", "C0PAYMENTS1")
    card = await database.run(lambda: post.incident)
    assert card.title == "Alice is on call for payments-primary until Mon 30 Nov 09:00 CET"

    clock.now = datetime(2026, 11, 29, 8, 5, tzinfo=UTC)
    assert await first.announce_handoffs() + await second.announce_handoffs() == 0
    assert [(row.audience, row.handoff_at) for row in await rows(HandoffNotice)] == [
        ("person", datetime(2026, 11, 29, 8, 0, tzinfo=UTC)), ("team", datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),
    ]
    assert len(await rows(NotificationLog)) == 1
