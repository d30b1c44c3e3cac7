"""Schedules that take their shifts from an iCalendar feed (``ical_url``: a PagerDuty or Grafana
OnCall export, a Google calendar): the feed's events, recurrences expanded with
``recurring-ical-events``, each matched to a person by an attendee's email, or by the summary
naming their email, handle or name. Pure: bytes in, shifts out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import recurring_ical_events
from icalendar import Calendar

# Expanded from this far back and this far ahead at each refresh.
FEED_PAST = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)


class FeedError(ValueError):
    """The feed could not be read; the message says why (kept, and shown in answers)."""


@dataclass(frozen=True)
class Person:
    handle: str
    email: str | None
    name: str


def shifts_from_ical(data: bytes, people: list[Person], now: datetime) -> list[dict]:
    """[{"user", "start", "end"}] (ISO 8601 UTC) for every event between FEED_PAST before and
    FEED_AHEAD after ``now`` that names a known person; other events are left out."""
    try:
        calendar = Calendar.from_ical(data)
        events = recurring_ical_events.of(calendar, skip_bad_series=True).between(now - FEED_PAST, now + FEED_AHEAD)
    except Exception as error:  # icalendar and the expander raise many kinds on bad input
        raise FeedError(f"not a readable iCalendar feed ({type(error).__name__}: {str(error)[:200]})") from None
    found = []
    for event in events:
        handle = _person_of(event, people)
        start, end = _instant(event.get("dtstart")), _instant(event.get("dtend"))
        if handle and start and end and end > start:
            found.append({"user": handle, "start": start.isoformat(), "end": end.isoformat()})
    return sorted(found, key=lambda shift: (shift["start"], shift["user"]))


def _instant(prop) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return None


def _person_of(event, people: list[Person]) -> str | None:
    attendees = event.get("attendee", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    emails = {str(attendee).lower().removeprefix("mailto:") for attendee in attendees}
    for person in people:
        if person.email and person.email.lower() in emails:
            return person.handle
    summary = str(event.get("summary", "")).lower()
    words = set(re.findall(r"[a-z0-9_.@+-]+", summary))
    for person in people:
        if (person.email and person.email.lower() in words) or person.handle in words:
            return person.handle
    for person in people:
        if person.name.lower() in summary:
            return person.handle
    return None
