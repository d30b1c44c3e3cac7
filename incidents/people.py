"""Who an incident pages and how each person can be reached. Synchronous: call inside
``database.run``."""
from __future__ import annotations

from datetime import datetime, timedelta

from peewee import fn

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


def reachable_channels(user_ids: list[int], enabled: frozenset[Channel]) -> dict[int, frozenset[Channel]]:
    """For each user, the enabled channels that have an address for them."""
    users = {user.id: user for user in User.select().where(User.id.in_(user_ids) & User.is_active)}
    slack = _users_with(SlackConnection, user_ids, SlackConnection.is_active)
    teams = _users_with(
        TeamsConnection, user_ids, TeamsConnection.is_active & TeamsConnection.conversation_reference.is_null(False)
    )
    push = _users_with(PushSubscription, user_ids, True)
    reach: dict[int, frozenset[Channel]] = {}
    for user_id in user_ids:
        user = users.get(user_id)
        if user is None:
            reach[user_id] = frozenset()
            continue
        has = {
            Channel.EMAIL: bool(user.email),
            Channel.SMS: bool(user.phone),
            Channel.VOICE: bool(user.phone),
            Channel.SLACK: user_id in slack,
            Channel.TEAMS: user_id in teams,
            Channel.PUSH: user_id in push,
        }
        reach[user_id] = frozenset(channel for channel, ok in has.items() if ok and channel in enabled)
    return reach


def _users_with(model, user_ids: list[int], condition) -> set[int]:
    query = model.select(model.user).where(model.user.in_(user_ids) & condition)
    return {row.user_id for row in query}
