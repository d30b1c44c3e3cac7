"""Private calendar feeds: a token per person or per schedule (only its SHA-256 stored; a new
link for the same subject revokes the old), and the shifts a feed shows: the next FEED_DAYS
(and the last FEED_PAST_DAYS), overrides included. Synchronous: call inside ``database.run``."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.action_tokens import hash_token
from incidents.oncall import load_schedule
from incidents.oncall_report import ShiftLine, named_shifts
from incidents.schedules.oncall import shift_at, shifts
from storage.database import write_transaction
from storage.models import CalendarToken, OnCallSchedule, User

FEED_DAYS = 60
FEED_PAST_DAYS = 7
TOKEN_PREFIX = "ackcal_"


class UnknownSubject(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no schedule or person named {name!r}")
        self.name = name


@dataclass(frozen=True)
class FeedShift:
    schedule: str
    time_zone: str
    shift: ShiftLine


@dataclass(frozen=True)
class Feed:
    """What one feed shows: ``title`` ("payments-primary on call", "Alice on call")."""

    title: str
    time_zones: tuple[str, ...]
    shifts: tuple[FeedShift, ...]


def _subject(name: str) -> tuple[OnCallSchedule | None, User | None]:
    schedule = OnCallSchedule.get_or_none(OnCallSchedule.name == name)
    if schedule is not None:
        return schedule, None
    user = User.get_or_none((User.handle == name) & User.is_active)
    if user is None:
        raise UnknownSubject(name)
    return None, user


def _active(schedule, user):
    query = CalendarToken.select().where(CalendarToken.revoked_at.is_null())
    if schedule is not None:
        return query.where(CalendarToken.schedule == schedule.id)
    return query.where(CalendarToken.user == user.id)


def issue_calendar_link(name: str, now: datetime) -> str:
    """A new feed token for the schedule or person ``name`` (the old one stops working)."""
    with write_transaction():
        return _issue(*_subject(name), now)


def issue_person_link(user_id: int, now: datetime) -> str:
    """A new feed token for the person's own shifts (the old one stops working)."""
    with write_transaction():
        return _issue(None, User.get_by_id(user_id), now)


def _issue(schedule: OnCallSchedule | None, user: User | None, now: datetime) -> str:
    ids = [row.id for row in _active(schedule, user)]
    if ids:
        CalendarToken.update(revoked_at=now).where(CalendarToken.id.in_(ids)).execute()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    CalendarToken.create(
        token_hash=hash_token(token), schedule=schedule.id if schedule else None, user=user.id if user else None,
        created_at=now,
    )
    return token


def revoke_calendar_links(name: str, now: datetime) -> int:
    with write_transaction():
        schedule, user = _subject(name)
        ids = [row.id for row in _active(schedule, user)]
        if ids:
            CalendarToken.update(revoked_at=now).where(CalendarToken.id.in_(ids)).execute()
    return len(ids)


def feed_for_token(token: str, now: datetime) -> Feed | None:
    """The feed a token opens; None for an unknown or revoked one."""
    row = CalendarToken.get_or_none((CalendarToken.token_hash == hash_token(token)) & CalendarToken.revoked_at.is_null())
    if row is None:
        return None
    start, end = now - timedelta(days=FEED_PAST_DAYS), now + timedelta(days=FEED_DAYS)
    if row.schedule_id is not None:
        schedule = OnCallSchedule.get_by_id(row.schedule_id)
        found = _shifts_of(schedule, start, end)
        return Feed(f"{schedule.name} on call", (schedule.time_zone,), tuple(found))
    user = User.get_by_id(row.user_id)
    found = [
        shift for schedule in OnCallSchedule.select().order_by(OnCallSchedule.name)
        for shift in _shifts_of(schedule, start, end) if shift.shift.handle == user.handle
    ]
    return Feed(f"{user.name} on call", tuple(sorted({shift.time_zone for shift in found})), tuple(found))


def _shifts_of(schedule: OnCallSchedule, start: datetime, end: datetime) -> list[FeedShift]:
    """The shifts overlapping [start, end), whole: the first and last are not cut at the edges
    (an event's times must stay the same from one fetch of the feed to the next)."""
    model = load_schedule(schedule)
    found = shifts(model, start, end)
    if found and found[0].start == start:
        found[0] = shift_at(model, start) or found[0]
    if found and found[-1].end == end:
        found[-1] = shift_at(model, found[-1].start) or found[-1]
    return [FeedShift(schedule.name, schedule.time_zone, line) for line in named_shifts(found)]
