"""Hand-off notices: at each hand-off the schedule's team gets a card in its Slack and Teams
channels, and the incoming person a notice on their first reachable tier ``lead`` before.
Synchronous: call inside ``database.run``.

Every instance looks now and then; a ``HandoffNotice`` row per (schedule, hand-off, audience),
unique, is written in the same transaction as what it queues, so each goes out once however
many instances look. A hand-off is still announced when found up to GRACE after it (an instance
restarting); one found later is not.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from incidents.channel_traits import TeamChat
from incidents.lifecycle import EngineConfig
from incidents.notices import queue_notice, queue_team_notice
from incidents.oncall import load_schedule
from incidents.schedules.model import Schedule, Shift
from incidents.schedules.oncall import shift_at, shifts
from storage.database import write_transaction
from storage.models import HandoffNotice, OnCallSchedule, Team, User

GRACE = timedelta(minutes=10)
TEAM, PERSON = "team", "person"


def due_announcements(schedule: Schedule, now: datetime, lead: timedelta) -> list[tuple[str, Shift]]:
    """(audience, shift) for each hand-off to announce now: to the team once the shift has
    started (within GRACE), to the person once it is ``lead`` or less away. Pure."""
    due = []
    for shift in shifts(schedule, now - GRACE, now + lead + timedelta(seconds=1)):
        if shift.start <= now - GRACE:
            continue  # clipped at the window's start: it began earlier
        if shift.start <= now:
            due.append((TEAM, shift))
        if shift.start <= now + lead:
            due.append((PERSON, shift))
    return due


def announce_handoffs(config: EngineConfig, now: datetime) -> int:
    """Queue every hand-off notice due now that no instance queued yet; returns how many."""
    queued = 0
    for row in OnCallSchedule.select().order_by(OnCallSchedule.id):
        schedule = load_schedule(row)
        for audience, shift in due_announcements(schedule, now, config.handoff_lead):
            whole = shift_at(schedule, shift.start) or shift
            queued += _announce_once(row, audience, whole, config, now)
    return queued


def _announce_once(row: OnCallSchedule, audience: str, shift: Shift, config: EngineConfig, now: datetime) -> int:
    person = User.get_or_none((User.handle == shift.handle) & User.is_active)
    team = Team.get_or_none(Team.id == row.team_id) if row.team_id else None
    if person is None or (audience == TEAM and not _has_channels(team)):
        return 0
    try:
        with write_transaction():
            notice = HandoffNotice.create(
                schedule=row.id, handoff_at=shift.start, audience=audience, user=person.id, created_at=now,
            )
            incident = _queue(row, audience, shift, person, team, config, now)
            HandoffNotice.update(incident=incident.id).where(HandoffNotice.id == notice.id).execute()
    except IntegrityError:
        return 0  # another instance announced it
    return 1


def _queue(row, audience, shift: Shift, person: User, team: Team | None, config: EngineConfig, now):
    if audience == TEAM:
        assert team is not None  # a team notice is only queued for a team with channels
        zone = ZoneInfo(row.time_zone)
        title = f"{person.name} is on call for {row.name} until {_when(shift.end, zone)}"
        return queue_team_notice(team, title, f"From {_when(shift.start, zone)}.", config, now)
    zone = ZoneInfo(person.time_zone or "UTC")
    title = f"You are on call for {row.name} from {_when(shift.start, zone)}"
    body = f"You are on call for {row.name} from {_when(shift.start, zone)} until {_when(shift.end, zone)}."
    return queue_notice(person.id, title, body, config, now)


def _has_channels(team: Team | None) -> bool:
    return team is not None and any(getattr(team, chat.value) for chat in TeamChat)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
