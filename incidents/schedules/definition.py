"""A schedule as stored: its rotations and file overrides as JSON, read back into a Schedule.

The JSON is what ``ackbot directory apply`` writes (``incidents.directory_sync``): local times as
"YYYY-MM-DDTHH:MM", shift lengths as "1w", days as "mon", hours as "09:00-17:00". Pure.
"""
from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from incidents.schedules.model import WEEKDAYS, WHOLE_DAY, Override, Rotation, Schedule, parse_shift_length, parse_window
from incidents.schedules.times import to_instant

_Parsed = TypeVar("_Parsed")


def rotation_json(users, start: datetime, shift, days, hours) -> dict:
    return {
        "users": list(users), "start": start.isoformat(timespec="minutes"), "shift": str(shift),
        "days": [WEEKDAYS[day] for day in sorted(days)], "hours": None if hours == WHOLE_DAY else str(hours),
    }


def override_json(user: str, start: datetime, end: datetime) -> dict:
    return {"user": user, "start": start.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes")}


def schedule_from_json(name: str, time_zone: str, definition: dict, extra_overrides=(), feed_shifts=None) -> Schedule:
    """The Schedule stored as ``definition``; ``extra_overrides`` (made from chat or the CLI)
    come after the file's, so they win where they overlap; ``feed_shifts`` are the last good
    copy of its calendar feed ([{"user", "start", "end"}], ISO 8601 instants)."""
    zone = ZoneInfo(time_zone)
    rotations = tuple(
        Rotation(
            tuple(rotation["users"]), datetime.fromisoformat(rotation["start"]),
            _stored(parse_shift_length(rotation["shift"]), "shift"),
            frozenset(WEEKDAYS.index(day) for day in rotation["days"]),
            _stored(parse_window(rotation["hours"]), "hours") if rotation["hours"] else WHOLE_DAY,
        )
        for rotation in definition["rotations"]
    )
    overrides = tuple(
        Override(
            override["user"], to_instant(datetime.fromisoformat(override["start"]), zone),
            to_instant(datetime.fromisoformat(override["end"]), zone),
        )
        for override in definition["overrides"]
    )
    feed = tuple(
        Override(shift["user"], datetime.fromisoformat(shift["start"]), datetime.fromisoformat(shift["end"]), "feed")
        for shift in feed_shifts or ()
    )
    return Schedule(name, zone, rotations, overrides + tuple(extra_overrides), feed)


def _stored(parsed: _Parsed | None, field: str) -> _Parsed:
    """A field of a stored definition, which was checked when the directory file was applied."""
    if parsed is None:
        raise ValueError(f"a stored rotation has an unreadable {field}")
    return parsed
