"""Who an incident pages and how each person can be reached. Synchronous: call inside
``database.run``."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from peewee import SQL, fn

from incidents.channel_traits import Reach
from incidents.directory import escalation_levels_for
from incidents.escalation import LevelState
from storage.enums import Channel
from storage.models import (
    PushSubscription,
    SlackConnection,
    TeamMember,
    TeamsConnection,
    User,
)

# When someone was last seen (a linked chat account, an API key) is kept to the minute: a write
# on every click or request would serialise them for nothing.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def stale_last_use(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at ``now`` is worth writing down over ``last_used_at``."""
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def anyone_listed() -> bool:
    """Whether the directory has anybody in it yet (an empty one is a first run)."""
    return User.select().exists()


def user_with_email(email: str) -> User | None:
    """The active person with ``email`` (compared without case), or None."""
    return User.select().where((fn.LOWER(User.email) == email.strip().lower()) & User.is_active).first()


def levels_of_team(team_id: int | None) -> tuple[LevelState, ...]:
    """The team's escalation levels; a team without any pages all its active members as level 1."""
    if team_id is None:
        return ()
    levels = escalation_levels_for(team_id)
    if levels:
        return tuple(LevelState(level, delay, tuple(users)) for level, delay, users in levels)
    members = (
        TeamMember.select(TeamMember.user)
        .join(User)
        .where((TeamMember.team == team_id) & User.is_active)
        .order_by(TeamMember.id)
    )
    user_ids = tuple(member.user_id for member in members)
    return (LevelState(1, 0, user_ids),) if user_ids else ()


def reachable_channels(user_ids: list[int], reach: Mapping[Channel, Reach]) -> dict[int, frozenset[Channel]]:
    """For each user, the channels of ``reach`` (each with the contact detail it needs) that
    have such a detail for them."""
    return reachable_by(contact_details(user_ids)[0], reach)


def reachable_by(held: Mapping[int, frozenset[Reach]], reach: Mapping[Channel, Reach]) -> dict[int, frozenset[Channel]]:
    """For each user of ``held`` (the kinds of contact detail held for them), the channels of
    ``reach`` that such a detail reaches."""
    return {
        user_id: frozenset(channel for channel, needed in reach.items() if needed in kinds)
        for user_id, kinds in held.items()
    }


def contact_details(user_ids: list[int]) -> tuple[dict[int, frozenset[Reach]], dict[int, str]]:
    """For each user, the kinds of contact detail Ackbot holds for them (none when inactive);
    and the name of each that exists. One query."""
    if not user_ids:
        return {}, {}
    linked = {
        Reach.SLACK_ACCOUNT: _linked(SlackConnection, SlackConnection.is_active),
        Reach.TEAMS_CHAT: _linked(
            TeamsConnection, TeamsConnection.is_active & TeamsConnection.conversation_reference.is_null(False)
        ),
        Reach.PUSH_SUBSCRIPTION: _linked(PushSubscription, None),
    }
    rows = User.select(User.id, User.name, User.email, User.phone, User.is_active, *linked.values()).where(
        User.id.in_(user_ids)
    ).tuples()
    names, held = {}, {}
    for user_id, name, email, phone, active, *links in rows:
        names[user_id] = name
        if active:
            on_file = {Reach.EMAIL_ADDRESS: bool(email), Reach.PHONE_NUMBER: bool(phone)}
            on_file.update(zip(linked, map(bool, links), strict=True))
            held[user_id] = frozenset(kind for kind, has in on_file.items() if has)
    return {user_id: held.get(user_id, frozenset()) for user_id in user_ids}, names


def _linked(model, condition):
    """Whether the outer query's user has a row of ``model`` (meeting ``condition``)."""
    where = model.user == User.id
    return fn.EXISTS(model.select(SQL("1")).where(where if condition is None else where & condition))
