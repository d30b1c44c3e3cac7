"""The directory as paging reads it (routing, teams, their levels and schedules, people's names,
contact details and channel tiers), kept in memory while the database's directory generation
(``storage.generation``) stays the one it was read under. A trigger reads one row instead of
some ten queries; a change made anywhere (this process, another instance, ``ackbot directory
apply``, another connection) moves the generation on and is honoured by the next trigger.

Who is on call is not kept: it is worked out at each use from the kept schedules, at the time
given. Synchronous: call inside ``database.run``.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from incidents.channel_traits import Reach, TeamChat
from incidents.directory import channel_tiers_for_users
from incidents.escalation import LevelState
from incidents.oncall import active_people, level_schedules, load_schedule
from incidents.people import contact_details, levels_of_team
from incidents.routing import RoutingTable, Teams
from incidents.routing_store import load_routing
from incidents.schedules.model import Schedule
from incidents.team_posts import alert_destinations
from incidents.tiers import ChannelEscalationConfig
from storage.database import database
from storage.enums import Channel
from storage.generation import directory_generation
from storage.models import OnCallSchedule, Team, User

Value = TypeVar("Value")

# One directory per open database (a process may open several, one after another, in tests).
_current: weakref.WeakKeyDictionary[Any, PagingDirectory] = weakref.WeakKeyDictionary()


def paging_directory() -> PagingDirectory:
    """The directory for the database's current generation: the one kept, or a new one when
    the generation moved on since. One read."""
    generation = directory_generation()
    if generation is None:
        return PagingDirectory(None)  # nothing to validate a copy against: kept by nobody
    opened = database.obj
    kept = _current.get(opened)
    if kept is None or kept.generation != generation:
        kept = _current[opened] = PagingDirectory(generation)
    return kept


class PagingDirectory:
    """Every answer is read from the database the first time it is asked for, then kept: the
    generation was read before any of them, so each is at least as new as it. The answers are
    shared between triggers: callers must not change them."""

    def __init__(self, generation: int | None):
        self.generation = generation
        self._kept: dict[Hashable, Any] = {}

    def _once(self, key: Hashable, load: Callable[[], Value]) -> Value:
        if key not in self._kept:
            self._kept[key] = load()
        return self._kept[key]

    def _each(self, kind: Hashable, keys: Iterable[Hashable], load: Callable[[list], Mapping]) -> dict:
        """One answer per key, those not kept yet loaded together (``load``: missing keys to
        their answers, every one of them answered)."""
        keys = list(dict.fromkeys(keys))
        missing = [key for key in keys if (kind, key) not in self._kept]
        if missing:
            loaded = load(missing)
            self._kept.update(((kind, key), loaded[key]) for key in missing)
        return {key: self._kept[(kind, key)] for key in keys}

    def routing(self) -> tuple[RoutingTable, Teams]:
        return self._once("routing", load_routing)

    def team(self, name: str) -> Team | None:
        return self._once(("team", name), lambda: Team.get_or_none(Team.name == name))

    def levels(self, team_id: int | None) -> tuple[LevelState, ...]:
        return self._once(("levels", team_id), lambda: levels_of_team(team_id))

    def level_schedules(self, team_id: int) -> dict[int, list[OnCallSchedule]]:
        return self._once(("level schedules", team_id), lambda: level_schedules(team_id))

    def schedule(self, row: OnCallSchedule) -> Schedule:
        return self._once(("schedule", row.id), lambda: load_schedule(row))

    def active_people(self, handles: list[str]) -> dict[str, User]:
        def load(missing: list) -> dict:
            found = active_people(missing)
            return {handle: found.get(handle) for handle in missing}

        return {handle: user for handle, user in self._each("person", handles, load).items() if user is not None}

    def contact_details(self, user_ids: list[int]) -> tuple[dict[int, frozenset[Reach]], dict[int, str]]:
        def load(missing: list) -> dict:
            held, names = contact_details(missing)
            return {user_id: (held[user_id], names.get(user_id)) for user_id in missing}

        details = self._each("contact", user_ids, load)
        held = {user_id: kinds for user_id, (kinds, _) in details.items()}
        return held, {user_id: name for user_id, (_, name) in details.items() if name is not None}

    def tiers(self, user_ids: list[int], default: ChannelEscalationConfig) -> dict[int, ChannelEscalationConfig]:
        return self._each(("tiers", default), user_ids, lambda missing: channel_tiers_for_users(missing, default))

    def team_posts(self, team: Team, chats: Mapping[Channel, TeamChat]) -> list[tuple[Channel, str, str | None]]:
        return self._once(("team posts", team.id, tuple(chats.items())), lambda: alert_destinations(team, chats))
