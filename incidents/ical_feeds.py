"""The stored side of calendar-fed schedules: which feeds are due a refresh, the people events
are matched against, each refresh's outcome, and how each feed is doing. Synchronous: call
inside ``database.run``. A feed that fails keeps its last good copy."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peewee import Field

from incidents.ical_import import Person
from storage.database import write_transaction
from storage.models import OnCallSchedule, User


@dataclass(frozen=True)
class FeedToLoad:
    schedule_id: int
    schedule: str
    url: str


def feed_problem(row: OnCallSchedule) -> str | None:
    """What is wrong with the schedule's feed, for answers and /healthz; None when it has none
    or it loads."""
    if not row.definition.get("ical_url"):
        return None
    if row.feed_loaded_at is None:
        return f"calendar feed not loaded yet{': ' + row.feed_error if row.feed_error else ''}"
    if row.feed_error:
        return f"calendar feed failing ({row.feed_error}); showing the copy of {row.feed_loaded_at:%Y-%m-%d %H:%M} UTC"
    return None


def feeds_due(now: datetime, interval: timedelta) -> list[FeedToLoad]:
    rows = OnCallSchedule.select().where(
        OnCallSchedule.feed_checked_at.is_null() | (OnCallSchedule.feed_checked_at <= now - interval)
    )
    return [FeedToLoad(row.id, row.name, row.definition["ical_url"]) for row in rows if row.definition.get("ical_url")]


def feed_people() -> list[Person]:
    return [Person(user.handle, user.email, user.name) for user in User.select().where(User.is_active).order_by(User.id)]


def record_feed(schedule_id: int, shifts: list[dict] | None, error: str | None, now: datetime) -> None:
    """A refresh's outcome: the new copy (``shifts``), or ``error`` with the old copy kept."""
    changes: dict[Field, Any] = {OnCallSchedule.feed_checked_at: now, OnCallSchedule.feed_error: error}
    if shifts is not None:
        changes.update({OnCallSchedule.feed_shifts: shifts, OnCallSchedule.feed_loaded_at: now})
    with write_transaction():
        OnCallSchedule.update(changes).where(OnCallSchedule.id == schedule_id).execute()


def feed_states() -> dict[str, str]:
    """{schedule: "ok" or its problem} for every calendar-fed schedule."""
    rows = OnCallSchedule.select().order_by(OnCallSchedule.name)
    return {row.name: feed_problem(row) or "ok" for row in rows if row.definition.get("ical_url")}
