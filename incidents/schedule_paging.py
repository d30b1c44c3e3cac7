"""Escalation levels that page schedules: resolved to people at the moment the level is paged,
and recorded (``PagedOnCall``) so that later evaluations of the incident keep paging the same
people however the schedule hands off meanwhile. Synchronous: call inside ``database.run``."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from incidents.directory_cache import PagingDirectory
from incidents.escalation import LevelState
from incidents.oncall import who_is_on_call
from storage.enums import EventKind
from storage.models import PagedOnCall


@dataclass(frozen=True)
class ScheduleTurn:
    """Whom ``schedule`` gives at ``level`` (``user_id`` None: nobody); ``recorded`` once the
    level was paged."""

    level: int
    schedule_id: int
    schedule: str
    user_id: int | None
    recorded: bool


def with_schedules(
    incident_id: int | None, team_id: int | None, levels: tuple[LevelState, ...], now: datetime,
    directory: PagingDirectory,
) -> tuple[tuple[LevelState, ...], list[ScheduleTurn]]:
    """``levels`` with the people their schedules give: as recorded when the level was paged,
    else whoever is on call ``now`` (from ``directory``'s schedules). ``incident_id`` None: an
    incident not opened yet, which has nothing recorded."""
    by_level = directory.level_schedules(team_id) if team_id is not None else {}
    if not by_level:
        return levels, []
    recorded = {
        (row.level, row.schedule_id): row.user_id
        for row in PagedOnCall.select().where(PagedOnCall.incident == incident_id)
    } if incident_id is not None else {}
    unrecorded = {
        row.id: row for level, rows in by_level.items() for row in rows if (level, row.id) not in recorded
    }
    answers = who_is_on_call(list(unrecorded.values()), now, directory.schedule, directory.active_people)
    current = {answer.schedule_id: answer.user_id for answer in answers}
    turns = [
        ScheduleTurn(level, row.id, row.name, recorded.get((level, row.id), current.get(row.id)), (level, row.id) in recorded)
        for level, rows in sorted(by_level.items())
        for row in rows
    ]
    resolved = []
    for state in levels:
        extra = [turn.user_id for turn in turns if turn.level == state.level and turn.user_id is not None]
        resolved.append(replace(state, user_ids=tuple(dict.fromkeys((*state.user_ids, *extra)))))
    return tuple(resolved), turns


def fresh_turns(turns: list[ScheduleTurn], levels: list[int]) -> list[ScheduleTurn]:
    """The unrecorded turns of the ``levels`` just paged or passed over."""
    return [turn for turn in turns if turn.level in levels and not turn.recorded]


def record_turns(incident_id: int, fresh: list[ScheduleTurn], names: Mapping[int, str], now: datetime) -> list[dict]:
    """Record the ``fresh`` turns (``names``: at least their people's); returns their timeline
    events (rows for IncidentEvent)."""
    if not fresh:
        return []
    PagedOnCall.insert_many([
        {"incident": incident_id, "level": turn.level, "schedule": turn.schedule_id, "user": turn.user_id, "created_at": now}
        for turn in fresh
    ]).execute()
    return [
        {
            "incident": incident_id, "kind": EventKind.ON_CALL, "user": turn.user_id, "created_at": now,
            "message": (
                f"On call for {turn.schedule}: {names[turn.user_id]} (level {turn.level})" if turn.user_id
                else f"Nobody on call for {turn.schedule} (level {turn.level})"
            ),
        }
        for turn in fresh
    ]
