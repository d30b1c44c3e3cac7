"""The on-call page's two-week picture of a schedule: one bar per shift, overrides marked, a tick
per day in the schedule's zone. Pure: shifts in, geometry out; the template draws it as SVG."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from incidents.oncall_report import ShiftLine

WIDTH = 700
DAYS = 14
_PALETTE = ("#0969da", "#8250df", "#1a7f37", "#bf3989", "#9a6700", "#0550ae", "#6639ba", "#116329")


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    title: str
    colour: str
    override: bool


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Picture:
    width: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]


def colour_of(handle: str) -> str:
    """The same colour for the same person on every schedule."""
    return _PALETTE[hashlib.sha256(handle.encode()).digest()[0] % len(_PALETTE)]


def two_weeks(shifts: list[ShiftLine], start: datetime, time_zone: str) -> Picture:
    """The shifts between ``start`` and two weeks later, scaled to WIDTH."""
    zone = ZoneInfo(time_zone)
    end = start + timedelta(days=DAYS)
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        clipped = min(max(moment, start), end)
        return round((clipped - start).total_seconds() / span * WIDTH, 1)

    bars = []
    for shift in shifts:
        left, right = x(shift.start), x(shift.end)
        if right <= left:
            continue
        who = shift.name or shift.handle
        when = f"{shift.start.astimezone(zone):%a %d %b %H:%M} – {shift.end.astimezone(zone):%a %d %b %H:%M %Z}"
        title = f"{who}{' (override)' if shift.override else ''}: {when}"
        bars.append(Bar(left, round(right - left, 1), who, title, colour_of(shift.handle), shift.override))
    first_midnight = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    ticks = []
    for day in range(DAYS + 1):
        local = (first_midnight + timedelta(days=day)).replace(tzinfo=None)
        moment = local.replace(tzinfo=zone)
        if start <= moment <= end:
            ticks.append(Tick(x(moment), f"{local:%a %d}"))
    return Picture(WIDTH, tuple(bars), tuple(ticks))
