"""Schedules read from the database, and who they have on call. Synchronous: call inside
``database.run``.

A stored schedule is its people-file definition plus the overrides made from chat or the CLI
(``ShiftOverride``), which come after the file's and so win where they overlap.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incidents.schedules.definition import schedule_from_json
from incidents.schedules.model import Override, Schedule
from incidents.schedules.oncall import on_call
from storage.models import EscalationLevel, LevelSchedule, OnCallSchedule, ShiftOverride, User


class UnknownSchedule(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no schedule named {name!r}")
        self.name = name


@dataclass(frozen=True)
class OnCallAnswer:
    """Who ``schedule`` has on call: ``user_id`` and ``name`` are None when nobody is."""

    schedule_id: int
    schedule: str
    handle: str | None
    user_id: int | None
    name: str | None


def load_schedule(row: OnCallSchedule) -> Schedule:
    """The schedule ``row`` with every override made from chat or the CLI."""
    stored = (
        ShiftOverride.select(ShiftOverride, User.handle)
        .join(User, on=ShiftOverride.user == User.id)
        .where(ShiftOverride.schedule == row.id)
        .order_by(ShiftOverride.created_at, ShiftOverride.id)
    )
    extra = tuple(
        Override(override.user.handle, override.starts_at, override.ends_at, override.created_by) for override in stored
    )
    feed = row.feed_shifts if row.definition.get("ical_url") else None
    return schedule_from_json(row.name, row.time_zone, row.definition, extra, feed)


def schedule_named(name: str) -> OnCallSchedule:
    row = OnCallSchedule.get_or_none(OnCallSchedule.name == name)
    if row is None:
        raise UnknownSchedule(name)
    return row


def who_is_on_call(
    rows: list[OnCallSchedule], at: datetime,
    schedules: Callable[[OnCallSchedule], Schedule] = load_schedule,
    people: Callable[[list[str]], dict[str, User]] | None = None,
) -> list[OnCallAnswer]:
    """For each schedule, the person on call at ``at`` (an inactive or unknown handle counts as
    nobody: no one could be paged). ``schedules`` and ``people`` read the schedules and the
    active people by handle (by default from the database; paging passes kept copies)."""
    found = {row.id: on_call(schedules(row), at) for row in rows}
    handles = {answer.handle for answer in found.values() if answer}
    by_handle = (people or active_people)(sorted(handles)) if handles else {}
    answers = []
    for row in rows:
        answer = found[row.id]
        person = by_handle.get(answer.handle) if answer else None
        answers.append(OnCallAnswer(
            row.id, row.name, person.handle if person else None, person.id if person else None, person.name if person else None,
        ))
    return answers


def active_people(handles: list[str]) -> dict[str, User]:
    """The active people among ``handles``, by handle."""
    return {user.handle: user for user in User.select().where(User.handle.in_(handles) & User.is_active)}


def level_schedules(team_id: int) -> dict[int, list[OnCallSchedule]]:
    """{level number: the schedules it pages} for the team's levels."""
    query = (
        LevelSchedule.select(EscalationLevel.level, OnCallSchedule)
        .join_from(LevelSchedule, EscalationLevel)
        .join_from(LevelSchedule, OnCallSchedule)
        .where(EscalationLevel.team == team_id)
        .order_by(EscalationLevel.level, OnCallSchedule.name)
    )
    levels: dict[int, list[OnCallSchedule]] = {}
    for row in query:
        levels.setdefault(row.escalation_level.level, []).append(row.schedule)
    return levels
