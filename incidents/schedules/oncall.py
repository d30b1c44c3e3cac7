"""Who is on call: an instant → a person, and the shifts of a time range. Pure; no clock.

The rules (README "Schedules", the contract in DESIGN): a rotation's person at instant ``t`` is
``people[k mod len(people)]`` where ``k`` counts the hand-offs between its start and ``t``
(nobody before the start); outside its days and window a rotation has nobody, though its turn
still advances; the last-listed layer with someone wins; an override wins over every layer (the
last-listed of overlapping overrides). A schedule fed by a calendar has the feed's shifts as a
layer above its rotations.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from incidents.schedules.model import OnCall, Rotation, Schedule, Shift
from incidents.schedules.times import at_clock, local_date, to_instant

# How far back a shift containing the asked-about instant is looked for, and forward for its end.
LOOK_BACK = timedelta(days=35)
LOOK_AHEAD = timedelta(days=62)


def hand_off(rotation: Rotation, zone, k: int) -> datetime:
    """The instant of the rotation's ``k``-th hand-off (0: its start)."""
    if rotation.shift.is_hours:
        return to_instant(rotation.start, zone) + timedelta(hours=k * rotation.shift.count)
    return to_instant(rotation.start + timedelta(days=k * rotation.shift.days), zone)


def turn_at(rotation: Rotation, zone, instant: datetime) -> int | None:
    """How many hand-offs came after the start up to ``instant``; None before the start."""
    first = hand_off(rotation, zone, 0)
    if instant < first:
        return None
    if rotation.shift.is_hours:
        return int((instant - first) // timedelta(hours=rotation.shift.count))
    k = max(0, (local_date(instant, zone) - rotation.start.date()).days // rotation.shift.days)
    while k > 0 and hand_off(rotation, zone, k) > instant:
        k -= 1
    while hand_off(rotation, zone, k + 1) <= instant:
        k += 1
    return k


def within_restrictions(rotation: Rotation, zone, instant: datetime) -> bool:
    """Whether ``instant`` is inside the rotation's days and daily window (a window crossing
    midnight belongs to the day it starts)."""
    if not rotation.restricted:
        return True
    today = local_date(instant, zone)
    return any(start <= instant < end for start, end in _windows(rotation, zone, today - timedelta(days=1), today))


def _windows(rotation: Rotation, zone, first_day, last_day):
    """(start, end) instants of the rotation's windows on the local days first_day..last_day."""
    day = first_day
    while day <= last_day:
        if not rotation.days or day.weekday() in rotation.days:
            window = rotation.window
            end_day = day + timedelta(days=1) if window.crosses_midnight else day
            yield at_clock(day, window.start, zone), at_clock(end_day, window.end, zone)
        day += timedelta(days=1)


def rotation_on_call(rotation: Rotation, zone, instant: datetime) -> str | None:
    k = turn_at(rotation, zone, instant)
    if k is None or not within_restrictions(rotation, zone, instant):
        return None
    return rotation.people[k % len(rotation.people)]


def on_call(schedule: Schedule, instant: datetime) -> OnCall | None:
    """Who is on call for ``schedule`` at ``instant``, and from which layer or override."""
    for override in reversed(schedule.overrides):
        if override.start <= instant < override.end:
            return OnCall(override.handle, None, override)
    for shift in reversed(schedule.feed):
        if shift.start <= instant < shift.end:
            return OnCall(shift.handle, 0)
    for layer in range(len(schedule.rotations), 0, -1):
        handle = rotation_on_call(schedule.rotations[layer - 1], schedule.zone, instant)
        if handle is not None:
            return OnCall(handle, layer)
    return None


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The shifts between ``start`` and ``end``, clipped to them, in order; time nobody is on
    call is a gap between shifts. Adjacent stretches of the same person (and the same kind:
    rotation or override) are one shift."""
    points = sorted({start, *(point for point in _changes(schedule, start, end) if start < point < end)})
    result: list[Shift] = []
    for point, following in pairwise([*points, end]):
        who = on_call(schedule, point)
        if who is None:
            continue
        made_by_override = who.override is not None
        last = result[-1] if result else None
        if last and last.end == point and (last.handle, last.override) == (who.handle, made_by_override):
            result[-1] = Shift(last.handle, last.start, following, last.override)
        else:
            result.append(Shift(who.handle, point, following, made_by_override))
    return result


def _changes(schedule: Schedule, start: datetime, end: datetime):
    """Every instant in or around [start, end] at which the answer may change."""
    for override in (*schedule.overrides, *schedule.feed):
        yield override.start
        yield override.end
    for rotation in schedule.rotations:
        k = turn_at(rotation, schedule.zone, start) or 0
        while (moment := hand_off(rotation, schedule.zone, k)) < end:
            yield moment
            k += 1
        if rotation.restricted:
            first_day = local_date(start, schedule.zone) - timedelta(days=1)
            for window_start, window_end in _windows(rotation, schedule.zone, first_day, local_date(end, schedule.zone)):
                yield window_start
                yield window_end


def shift_at(schedule: Schedule, instant: datetime) -> Shift | None:
    """The whole shift containing ``instant`` (looked for within LOOK_BACK and LOOK_AHEAD)."""
    around = shifts(schedule, instant - LOOK_BACK, instant + LOOK_AHEAD)
    return next((shift for shift in around if shift.start <= instant < shift.end), None)


def next_shifts(schedule: Schedule, instant: datetime, count: int) -> list[Shift]:
    """The shift at ``instant`` (whole) and the ``count`` after it, within LOOK_AHEAD."""
    current = shift_at(schedule, instant)
    upcoming = shifts(schedule, current.end if current else instant, instant + LOOK_AHEAD)
    return ([current] if current else []) + upcoming[:count]
