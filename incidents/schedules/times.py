"""Local wall-clock times of a schedule's zone turned into instants, by the contract's rules.

Pure. A local time that does not exist (a DST gap) moves forward to the first valid instant; a
local time that occurs twice (fall back) means its first occurrence. Instants are aware UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall-clock time ``local`` in ``zone``."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    # In a gap, fold=0 lands after the gap and fold=1 before it: the transition lies between.
    before = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_instant_with_offset(before, first, zone)


def _first_instant_with_offset(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first second in (low, high] whose UTC offset is that of ``high``."""
    offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high


def at_clock(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant ``clock`` o'clock on ``day`` in ``zone``."""
    return to_instant(datetime.combine(day, clock), zone)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()
