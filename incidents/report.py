"""Read-only views of incidents: the per-person, per-channel delivery grid (with the team channel's
posts), the timeline, lists.
Synchronous: run inside ``database.run``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from storage.enums import OPEN_INCIDENT_STATUSES, IncidentStatus
from storage.models import Incident, IncidentEvent, NotificationLog, Team, TeamPost, User

# The incident lists' status filters, by the name a person asks with.
STATUS_FILTERS = {
    "open": OPEN_INCIDENT_STATUSES,
    "triggered": (IncidentStatus.TRIGGERED,),
    "acknowledged": (IncidentStatus.ACKNOWLEDGED,),
    "resolved": (IncidentStatus.RESOLVED,),
    "all": tuple(IncidentStatus),
}


@dataclass(frozen=True)
class NotificationLine:
    notification_id: int
    person: str
    channel: str
    kind: str
    status: str
    attempts: int
    provider_id: str | None
    error: str | None
    escalation_level: int | None
    tier: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class TeamPostLine:
    """A card posted (or being posted) to the team's chat channel, or an edit of it."""

    channel: str
    destination: str
    kind: str
    status: str
    attempts: int
    provider_id: str | None
    error: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class EventLine:
    kind: str
    at: datetime
    person: str | None
    channel: str | None
    message: str


@dataclass(frozen=True)
class IncidentReport:
    incident: Incident
    team_name: str | None
    notifications: tuple[NotificationLine, ...]
    events: tuple[EventLine, ...]
    team_posts: tuple[TeamPostLine, ...] = ()


def incident_report(incident: Incident) -> IncidentReport:
    team_name = incident.team.name if incident.team is not None else None
    rows = (
        NotificationLog.select(NotificationLog, User.name)
        .join(User)
        .where(NotificationLog.incident == incident.id)
        .order_by(NotificationLog.escalation_level, User.name, NotificationLog.id)
    )
    notifications = tuple(
        NotificationLine(
            row.id, row.user.name, row.channel, row.kind, row.status, row.attempt_count, row.provider_id,
            row.error, row.escalation_level, row.tier, row.queued_at, row.sent_at, row.delivered_at,
            row.last_attempt_at, row.next_attempt_at, row.user_id,
        )
        for row in rows
    )
    events = (
        IncidentEvent.select(IncidentEvent, User.name)
        .join(User, join_type=JOIN.LEFT_OUTER, on=(IncidentEvent.user == User.id))
        .where(IncidentEvent.incident == incident.id)
        .order_by(IncidentEvent.created_at, IncidentEvent.id)
    )
    timeline = tuple(
        EventLine(event.kind, event.created_at, event.user.name if event.user_id else None, event.channel, event.message)
        for event in events
    )
    posts = tuple(
        TeamPostLine(
            post.channel, post.destination, post.kind, post.status, post.attempt_count, post.provider_id, post.error,
            post.queued_at, post.sent_at, post.delivered_at, post.last_attempt_at, post.next_attempt_at,
        )
        for post in TeamPost.select().where(TeamPost.incident == incident.id).order_by(TeamPost.id)
    )
    return IncidentReport(incident, team_name, notifications, timeline, posts)


def find_incidents(statuses, team: str | None, limit: int) -> list[Incident]:
    """Incidents in ``statuses`` (default: open ones), newest first, optionally one team's."""
    query = Incident.select(Incident, Team).join(Team, join_type=JOIN.LEFT_OUTER, on=(Incident.team == Team.id))
    query = query.where(Incident.status.in_(list(statuses or OPEN_INCIDENT_STATUSES)))
    if team:
        query = query.where(Team.name == team)
    return list(query.order_by(Incident.id.desc()).limit(limit))
