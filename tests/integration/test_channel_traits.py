"""The engine treats a channel as its declared traits say, whatever its name: here SMS is
declared to behave like a chat card that reaches people by email address, and email to send no
status notice. Scripted channels on a fixed clock, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import replace

import pytest

from channels.registry import CHANNEL_TRAITS
from incidents.channel_traits import ChannelTraits, Reach, StatusNotice, TeamChat
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.enums import Channel, NotificationKind, Tier
from storage.models import Team, TeamPost
from tests.integration.test_engine import Engine, _grid, _person, _rows

REDECLARED = {
    **CHANNEL_TRAITS,
    Channel.SMS: ChannelTraits(
        Reach.EMAIL_ADDRESS, Tier.PRIMARY, StatusNotice.EDITS_MESSAGE, action_links=True, team_chat=TeamChat.TEAMS_CHANNEL,
    ),
    Channel.EMAIL: ChannelTraits(Reach.EMAIL_ADDRESS, Tier.PRIMARY, StatusNotice.NONE),
}


@pytest.fixture
async def engine(storage):
    engine = Engine()
    engine.service.config = replace(engine.service.config, channel_traits=REDECLARED)
    return engine


async def test_reach_tier_links_team_posts_and_notices_follow_the_declared_traits(engine):
    team = await Team.acreate(name="payments", display_name="Payments", teams_channel="19:payments@thread.tacv2")
    alice = await _person("alice", team, phone=False)
    number = (await engine.service.trigger(TriggerRequest(title="DB primary down", team="payments"))).incident.id
    await engine.tick()

    pages = await _rows(number)
    assert _grid(pages) == {(alice.id, "EMAIL", "SENT"), (alice.id, "SMS", "SENT")}
    assert {row.tier for row in pages} == {"primary"}
    sms_page, team_post = sorted(engine.channels[Channel.SMS].sent, key=lambda payload: payload.user_id is None)
    assert all(action.url and "/a/" in action.url for action in sms_page.actions)
    assert team_post.recipient.name == "Payments" and all(action.url is None for action in team_post.actions)
    [post] = await TeamPost._meta.database.list(TeamPost.select().where(TeamPost.incident == number))
    assert (post.channel, post.destination) == ("SMS", "19:payments@thread.tacv2")

    await engine.service.acknowledge(number, Actor("Alice", "SMS", alice.id))
    notices = await _rows(number, NotificationKind.STATUS)
    assert _grid(notices) == {(alice.id, "SMS", "QUEUED")}
    assert notices[0].message_reference == {"id": next(row for row in pages if row.channel == "SMS").provider_id}
