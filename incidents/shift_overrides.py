"""Overrides made from chat or the CLI (``ShiftOverride``): taking a shift now, adding one for
anyone, listing and removing them. ``directory apply`` never touches them. Whoever an override
replaces is told by a notice (``incidents.notices``). Synchronous: call inside ``database.run``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from incidents.lifecycle import EngineConfig
from incidents.notices import queue_notice
from incidents.oncall import UnknownSchedule, load_schedule, schedule_named
from incidents.oncall_report import instant_in, schedules_of_team
from incidents.schedules.oncall import on_call, shift_at
from storage.database import write_transaction
from storage.models import EscalationLevel, LevelSchedule, OnCallSchedule, ShiftOverride, Team, TeamMember, User

MAX_OVERRIDE = timedelta(days=62)


class OverrideRefused(Exception):
    """The override cannot be made; the message says why, to the person who asked."""


@dataclass(frozen=True)
class OverrideView:
    id: int
    schedule: str
    time_zone: str
    handle: str
    name: str
    start: datetime
    end: datetime
    replaced: str | None
    created_by: str


def take_shift(
    user_id: int, schedule_name: str | None, duration: timedelta | None, by: str, config: EngineConfig, now: datetime,
) -> OverrideView:
    """Put the person on call from ``now`` for ``duration``, or until the current shift ends.
    Only people on the schedule's team may (its own team, or one whose levels page it)."""
    with write_transaction():
        row = _schedule_to_take(user_id, schedule_name)
        team_ids = teams_of_schedule(row)
        if not TeamMember.select().where((TeamMember.user == user_id) & TeamMember.team.in_(team_ids)).exists():
            names = ", ".join(sorted(name for (name,) in Team.select(Team.name).where(Team.id.in_(team_ids)).tuples()))
            raise OverrideRefused(f"Only people on {names or 'its team'} may take {row.name} shifts.")
        schedule = load_schedule(row)
        if duration is None:
            current = shift_at(schedule, now)
            if current is None:
                raise OverrideRefused(f"Nobody is on call for {row.name} now, so say for how long, like take {row.name} 2h.")
            end = current.end
        else:
            end = now + duration
        return _create(row, User.get_by_id(user_id), now, end, by, config, now)


def add_override(
    schedule_name: str, handle: str, start: datetime, end: datetime, by: str, config: EngineConfig, now: datetime,
) -> OverrideView:
    """Put ``handle`` on call from ``start`` to ``end`` (naive: the schedule's local time) —
    anyone, as the CLI may. Raises UnknownSchedule or OverrideRefused."""
    with write_transaction():
        row = schedule_named(schedule_name)
        zone = ZoneInfo(row.time_zone)
        start, end = instant_in(start, zone), instant_in(end, zone)
        user = User.get_or_none((User.handle == handle) & User.is_active)
        if user is None:
            raise OverrideRefused(f"no active person with the handle {handle!r}")
        if not start < end <= start + MAX_OVERRIDE:
            raise OverrideRefused(f"the end must be after the start, and at most {MAX_OVERRIDE.days} days later")
        return _create(row, user, start, end, by, config, now)


def _create(
    row: OnCallSchedule, user: User, start: datetime, end: datetime, by: str, config: EngineConfig, now: datetime,
) -> OverrideView:
    """Record the override; the person it replaces at its start is told now."""
    schedule = load_schedule(row)
    before = on_call(schedule, start)
    replaced = User.get_or_none((User.handle == before.handle) & User.is_active) if before else None
    if replaced is not None and replaced.id == user.id:
        replaced = None
    override = ShiftOverride.create(
        schedule=row.id, user=user.id, starts_at=start, ends_at=end, replaced=replaced.id if replaced else None,
        created_by=by, created_at=now,
    )
    view = OverrideView(override.id, row.name, row.time_zone, user.handle, user.name, start, end,
                        replaced.handle if replaced else None, by)
    if replaced is not None:
        _tell_replaced(replaced, view, config, now)
    return view


def _tell_replaced(replaced: User, view: OverrideView, config: EngineConfig, now: datetime) -> None:
    zone = ZoneInfo(replaced.time_zone or "UTC")
    start, end = view.start.astimezone(zone), view.end.astimezone(zone)
    title = f"{view.name} takes your {view.schedule} shift until {end:%a %d %b %H:%M} {end.tzname()}"
    body = (
        f"{view.name} is on call for {view.schedule} instead of you from {start:%a %d %b %H:%M} to"
        f" {end:%a %d %b %H:%M} {end.tzname()} (set by {view.created_by}). You are not paged for it meanwhile."
    )
    queue_notice(replaced.id, title, body, config, now)


def _schedule_to_take(user_id: int, name: str | None) -> OnCallSchedule:
    if name is not None:
        try:
            return schedule_named(name)
        except UnknownSchedule:
            raise OverrideRefused(f"There is no schedule named {name}.") from None
    team_ids = [team_id for (team_id,) in TeamMember.select(TeamMember.team).where(TeamMember.user == user_id).tuples()]
    candidates = {row.id: row for team_id in team_ids for row in schedules_of_team(team_id)}
    if not candidates:
        raise OverrideRefused("None of your teams has a schedule.")
    if len(candidates) > 1:
        names = ", ".join(sorted(row.name for row in candidates.values()))
        raise OverrideRefused(f"Your teams have several schedules; say which: take NAME, with NAME one of {names}.")
    return next(iter(candidates.values()))


def teams_of_schedule(row: OnCallSchedule) -> list[int]:
    """The schedule's own team and every team whose levels page it."""
    paging = LevelSchedule.select(EscalationLevel.team).join(EscalationLevel).where(LevelSchedule.schedule == row.id)
    team_ids = {team_id for (team_id,) in paging.tuples()}
    return sorted(team_ids | ({row.team_id} if row.team_id else set()))


def list_overrides(schedule_name: str | None, now: datetime) -> list[OverrideView]:
    """Overrides not yet over, by start. Raises UnknownSchedule."""
    query = ShiftOverride.select().where(ShiftOverride.ends_at > now)
    if schedule_name is not None:
        query = query.where(ShiftOverride.schedule == schedule_named(schedule_name).id)
    return [_view(override) for override in query.order_by(ShiftOverride.starts_at, ShiftOverride.id)]


def remove_override(override_id: int) -> OverrideView | None:
    with write_transaction():
        override = ShiftOverride.get_or_none(ShiftOverride.id == override_id)
        if override is None:
            return None
        view = _view(override)
        override.delete_instance()
    return view


def _view(override: ShiftOverride) -> OverrideView:
    row, user = override.schedule, override.user
    replaced = override.replaced.handle if override.replaced is not None else None
    return OverrideView(override.id, row.name, row.time_zone, user.handle, user.name, override.starts_at, override.ends_at,
                        replaced, override.created_by)
