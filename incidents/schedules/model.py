"""What a schedule is: rotations (layers) and overrides, as the computation reads them.

Pure values. Every time here is either a naive local time in the schedule's zone (what the
people file says) or an aware UTC instant (what the computation answers in).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHIFT_LENGTH = re.compile(r"([1-9][0-9]{0,3})([hdw])")
WINDOW = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")
MAX_SHIFT_HOURS = 52 * 7 * 24


@dataclass(frozen=True)
class ShiftLength:
    """``count`` hours, days or weeks. Days and weeks keep the local wall clock across DST;
    hours are elapsed real hours."""

    count: int
    unit: str  # "h", "d" or "w"

    @property
    def days(self) -> int:
        return self.count * (7 if self.unit == "w" else 1)

    @property
    def is_hours(self) -> bool:
        return self.unit == "h"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def parse_shift_length(text: str) -> ShiftLength | None:
    """``8h``, ``1d``, ``2w`` → ShiftLength; None when ``text`` is not one (or over a year)."""
    match = SHIFT_LENGTH.fullmatch(text.strip().lower())
    if not match:
        return None
    length = ShiftLength(int(match.group(1)), match.group(2))
    hours = length.count if length.is_hours else length.days * 24
    return length if hours <= MAX_SHIFT_HOURS else None


@dataclass(frozen=True)
class Window:
    """A daily local time window; ``end <= start`` means it ends the next day (it belongs to
    the day it starts). 00:00-00:00 is the whole day."""

    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


WHOLE_DAY = Window(time(0), time(0))


def parse_window(text: str) -> Window | None:
    match = WINDOW.fullmatch(text.strip())
    if not match:
        return None
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
    return Window(time(start_hour, start_minute), time(end_hour, end_minute))


@dataclass(frozen=True)
class Rotation:
    """A layer: ``people`` (handles) take turns, the first from ``start`` (naive local), each
    for ``shift``; only on ``days`` (weekday numbers, Monday 0; empty: every day) within
    ``window``."""

    people: tuple[str, ...]
    start: datetime
    shift: ShiftLength
    days: frozenset[int] = frozenset()
    window: Window = WHOLE_DAY

    @property
    def restricted(self) -> bool:
        return bool(self.days) or self.window != WHOLE_DAY


@dataclass(frozen=True)
class Override:
    """``handle`` is on call from ``start`` to ``end`` (aware instants), over every layer."""

    handle: str
    start: datetime
    end: datetime
    source: str = "file"  # "file", or who made it from chat or the CLI


@dataclass(frozen=True)
class Schedule:
    name: str
    zone: ZoneInfo
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = field(default=())
    feed: tuple[Override, ...] = field(default=())  # fixed shifts from an iCalendar feed


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant and why: ``layer`` is the rotation's position from 1, 0 for
    a calendar feed's shift, or None when ``override`` put them there."""

    handle: str
    layer: int | None
    override: Override | None = None


@dataclass(frozen=True)
class Shift:
    """A stretch of time one person is on call, start inclusive, end exclusive."""

    handle: str
    start: datetime
    end: datetime
    override: bool

    def duration(self) -> timedelta:
        return self.end - self.start
