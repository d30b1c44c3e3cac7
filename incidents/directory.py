"""The people file applied to the database, and the lookups paging needs.

``PeopleDirectory.apply_file`` is what ``ackbot directory apply`` runs. ``channel_tiers_for`` and
``escalation_levels_for`` are synchronous peewee code: call them inside ``await database.run(...)``,
alone or from a larger function running there.

Parsing lives in ``incidents.directory_file`` (its names are re-exported here), writing in
``incidents.directory_sync``.
"""
from __future__ import annotations

from pathlib import Path

from peewee import JOIN

from incidents.directory_file import (
    Directory,
    DirectoryError,
    LevelEntry,
    TeamEntry,
    UserEntry,
    parse_people_file,
)
from incidents.directory_sync import sync_directory
from incidents.tiers import ChannelEscalationConfig
from storage.database import database
from storage.enums import Channel, Tier
from storage.models import ChannelPreference, EscalationLevel, EscalationTarget

__all__ = [
    "Directory",
    "DirectoryError",
    "LevelEntry",
    "PeopleDirectory",
    "TeamEntry",
    "UserEntry",
    "channel_tiers_for",
    "escalation_levels_for",
    "parse_people_file",
]


class PeopleDirectory:
    """The teams and people of the database, as people files describe them."""

    async def apply_file(self, path: Path) -> str:
        """Make the database match the people file at ``path``; returns a one-paragraph summary.

        One transaction upserts teams (by name) and users (by handle, re-activating them); for
        every listed user their team memberships and channel preferences, and for every listed
        team its escalation levels, become exactly the file's. Teams and users not in the file are
        left alone. Only rows that differ are written, so applying the same file again writes
        nothing; a user's ``updated_at`` moves only when their own row changes. Raises
        DirectoryError, having written nothing.
        """
        directory = parse_people_file(path)
        changes = await database.run(sync_directory, directory)
        return changes.summary(directory)


def channel_tiers_for(user_id: int, default: ChannelEscalationConfig) -> ChannelEscalationConfig:
    """The user's channel tiers: their preferences, or ``default`` (the tiers the channels
    declare, ``EngineConfig.default_tiers``) when they have none. Synchronous: call inside
    ``database.run``."""
    return channel_tiers_for_users([user_id], default)[user_id]


def channel_tiers_for_users(user_ids: list[int], default: ChannelEscalationConfig) -> dict[int, ChannelEscalationConfig]:
    """``channel_tiers_for`` for several users in one query. A tier's channels go out together,
    so they come in ``Channel`` order, not the file's. Synchronous: call inside ``database.run``."""
    rows = (
        ChannelPreference.select(ChannelPreference.user, ChannelPreference.channel, ChannelPreference.tier)
        .where(ChannelPreference.user.in_(user_ids))
        .tuples()
    )
    chosen: dict[int, dict[str, list[Channel]]] = {}
    for user_id, channel, tier in rows:
        chosen.setdefault(user_id, {tier.value: [] for tier in Tier})[tier].append(Channel(channel))
    order = list(Channel)
    return {
        user_id: ChannelEscalationConfig(
            **{tier: tuple(sorted(channels, key=order.index)) for tier, channels in chosen[user_id].items()}
        ) if user_id in chosen else default
        for user_id in user_ids
    }


def escalation_levels_for(team_id: int) -> list[tuple[int, int, list[int]]]:
    """(level, delay_minutes, user ids in ascending order) for each of the team's escalation
    levels, ordered by level; inactive users included. One query. Synchronous: call inside
    ``database.run``."""
    rows = (
        EscalationLevel.select(EscalationLevel.level, EscalationLevel.delay_minutes, EscalationTarget.user)
        .join(EscalationTarget, JOIN.LEFT_OUTER, on=EscalationTarget.escalation_level == EscalationLevel.id)
        .where(EscalationLevel.team == team_id)
        .tuples()
    )
    levels: dict[int, tuple[int, list[int]]] = {}
    for number, delay, user_id in rows:
        users = levels.setdefault(number, (delay, []))[1]
        if user_id is not None:
            users.append(user_id)
    return [(number, delay, sorted(users)) for number, (delay, users) in sorted(levels.items())]
