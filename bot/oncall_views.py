"""Who-is-on-call answers as text (chat, SMS, the CLI) and as JSON (the API, ``--json``).

Text shows every time in the schedule's zone and, when it differs, the reader's own.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from incidents.oncall_report import OnCallLine, ShiftLine

NO_SCHEDULES = "No schedules here yet: they are defined in the people file ([[schedules]])."


def when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _span(shift: ShiftLine, zone: ZoneInfo, reader: ZoneInfo | None) -> str:
    text = f"{when(shift.start, zone)} – {when(shift.end, zone)}"
    if reader is not None and reader.key != zone.key:
        text += f" (your time {when(shift.start, reader)} – {when(shift.end, reader)})"
    return text


def _person(shift: ShiftLine) -> str:
    person = f"{shift.name} ({shift.handle})" if shift.name else shift.handle
    return person + (" by override" if shift.override else "")


def oncall_text(lines: list[OnCallLine], reader_zone: str | None) -> str:
    """One paragraph per schedule; ``reader_zone`` is the asker's IANA zone (None: not known)."""
    if not lines:
        return NO_SCHEDULES
    reader = ZoneInfo(reader_zone) if reader_zone else None
    paragraphs = []
    for line in lines:
        zone = ZoneInfo(line.time_zone)
        if line.current:
            first = f"{line.schedule}: {_person(line.current)}, {_span(line.current, zone, reader)}"
        else:
            first = f"{line.schedule}: nobody on call at {when(line.at, zone)}"
        later = [f"  then {_person(shift)}, {_span(shift, zone, reader)}" for shift in line.upcoming]
        problem = [f"  ({line.feed_problem})"] if line.feed_problem else []
        paragraphs.append("\n".join([first, *later, *problem]))
    return "\n".join(paragraphs)


def shift_json(shift: ShiftLine) -> dict:
    return {
        "handle": shift.handle, "name": shift.name, "start": shift.start.isoformat(), "end": shift.end.isoformat(),
        "override": shift.override,
    }


def oncall_json(lines: list[OnCallLine]) -> list[dict]:
    return [
        {
            "schedule": line.schedule, "time_zone": line.time_zone, "team": line.team, "at": line.at.isoformat(),
            "on_call": shift_json(line.current) if line.current else None,
            "upcoming": [shift_json(shift) for shift in line.upcoming],
            "feed_problem": line.feed_problem,
        }
        for line in lines
    ]
