"""Answers to "who is on call": per schedule, the person and their whole shift at an instant and
the shifts after it, or the shifts of a time range. Synchronous: call inside ``database.run``.

Times asked without a zone are each schedule's own (naive datetimes here); aware ones are
instants.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from incidents.ical_feeds import feed_problem
from incidents.lifecycle import UnknownTeam
from incidents.oncall import UnknownSchedule, load_schedule, schedule_named
from incidents.schedules.model import Shift
from incidents.schedules.oncall import next_shifts, shifts
from incidents.schedules.times import to_instant
from storage.models import EscalationLevel, LevelSchedule, OnCallSchedule, Team, User

MAX_RANGE = timedelta(days=62)


class BadRange(ValueError):
    """The end of a range is not after its start, or is more than MAX_RANGE after it."""


class UnknownTarget(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no schedule or team named {name!r}")
        self.name = name


@dataclass(frozen=True)
class ShiftLine:
    """A shift with the person's name (None for a handle no longer in the directory)."""

    handle: str
    name: str | None
    start: datetime
    end: datetime
    override: bool


@dataclass(frozen=True)
class OnCallLine:
    """Who ``schedule`` has on call ``at``: ``current`` (None: nobody), then ``upcoming``."""

    schedule: str
    time_zone: str
    team: str | None
    at: datetime
    current: ShiftLine | None
    upcoming: tuple[ShiftLine, ...]
    feed_problem: str | None = None


def instant_in(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as an instant: a naive one is a local time in ``zone``."""
    return to_instant(moment, zone) if moment.tzinfo is None else moment


def on_call_report(target: str | None, team: str | None, schedule: str | None, at: datetime, upcoming: int) -> list[OnCallLine]:
    """Who is on call at ``at`` for the schedule named ``schedule``, the schedules of ``team``,
    the schedule or team named ``target``, or (none given) every schedule. Raises
    UnknownSchedule, UnknownTeam or UnknownTarget."""
    rows = _schedules(target, team, schedule)
    team_names = dict(Team.select(Team.id, Team.name).tuples())
    lines = []
    for row in rows:
        model = load_schedule(row)
        instant = instant_in(at, model.zone)
        found = named_shifts(next_shifts(model, instant, upcoming))
        current = found[0] if found and found[0].start <= instant else None
        later = found[1:] if current else found
        lines.append(OnCallLine(
            row.name, row.time_zone, team_names.get(row.team_id), instant, current, tuple(later), feed_problem(row),
        ))
    return lines


def shifts_report(name: str, start: datetime, end: datetime) -> tuple[OnCallSchedule, list[ShiftLine]]:
    """The shifts of the schedule ``name`` between ``start`` and ``end``. Raises UnknownSchedule,
    or BadRange."""
    row = schedule_named(name)
    model = load_schedule(row)
    start, end = instant_in(start, model.zone), instant_in(end, model.zone)
    if not start < end <= start + MAX_RANGE:
        raise BadRange(f"expected a time after from, at most {MAX_RANGE.days} days later")
    return row, named_shifts(shifts(model, start, end))


def named_shifts(found: list[Shift]) -> list[ShiftLine]:
    handles = sorted({shift.handle for shift in found})
    names = dict(User.select(User.handle, User.name).where(User.handle.in_(handles)).tuples()) if handles else {}
    return [ShiftLine(shift.handle, names.get(shift.handle), shift.start, shift.end, shift.override) for shift in found]


def _schedules(target: str | None, team: str | None, schedule: str | None) -> list[OnCallSchedule]:
    if schedule is not None:
        return [schedule_named(schedule)]
    if team is not None:
        row = Team.get_or_none(Team.name == team)
        if row is None:
            raise UnknownTeam(team)
        return schedules_of_team(row.id)
    if target is not None:
        try:
            return [schedule_named(target)]
        except UnknownSchedule:
            row = Team.get_or_none(Team.name == target)
            if row is None:
                raise UnknownTarget(target) from None
            return schedules_of_team(row.id)
    return list(OnCallSchedule.select().order_by(OnCallSchedule.name))


def schedules_of_team(team_id: int) -> list[OnCallSchedule]:
    """The team's own schedules and those its escalation levels page, by name."""
    paged = (
        LevelSchedule.select(LevelSchedule.schedule).join(EscalationLevel).where(EscalationLevel.team == team_id)
    )
    query = OnCallSchedule.select().where((OnCallSchedule.team == team_id) | OnCallSchedule.id.in_(paged))
    return list(query.order_by(OnCallSchedule.name))
