"""What the web view shows, limited to what the signed-in person may see: their teams'
incidents and the ones they were paged for (everything for people marked ``admin``), the
delivery grid, people's reachability and, for admins, the delivery log."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, SQL, Case, fn

from incidents.channel_traits import Reach
from incidents.lifecycle import IncidentNotFound, involved
from incidents.people import reachable_channels
from incidents.report import IncidentReport, incident_report
from incidents.web_sessions import Viewer
from storage.database import database
from storage.enums import Channel, DeliveryStatus
from storage.models import (
    Incident,
    IncidentEvent,
    NotificationLog,
    PushSubscription,
    SlackConnection,
    Team,
    TeamMember,
    TeamsConnection,
    User,
)

PAGE_SIZE = 25


@dataclass(frozen=True)
class IncidentPage:
    incidents: tuple[Incident, ...]
    page: int
    has_next: bool
    teams: tuple[str, ...]


@dataclass(frozen=True)
class PersonReach:
    """How a person can be reached now: the addresses and links they have, and which enabled
    channels that makes usable (empty: nothing Ackbot sends can reach them)."""

    user_id: int
    handle: str
    name: str
    email: str | None
    phone: str | None
    slack_linked: bool
    teams_installed: bool
    push_devices: int
    reachable: tuple[Channel, ...]


@dataclass(frozen=True)
class LogLine:
    notification_id: int
    incident_id: int
    incident_title: str
    person: str
    channel: str
    kind: str
    status: str
    attempts: int
    provider_id: str | None
    error: str | None
    queued_at: datetime
    last_attempt_at: datetime | None


def _visible(viewer: Viewer):
    """The SQL condition for the incidents ``viewer`` (not an admin) may see."""
    paged = NotificationLog.select(NotificationLog.incident).where(NotificationLog.user == viewer.user_id)
    return Incident.team.in_(list(viewer.team_ids)) | Incident.id.in_(paged)


def _visible_team_names(viewer: Viewer) -> tuple[str, ...]:
    query = Team.select(Team.name).order_by(Team.name)
    if not viewer.is_admin:
        query = query.where(Team.id.in_(list(viewer.team_ids)))
    return tuple(team.name for team in query)


def incident_page(viewer: Viewer, statuses, team: str | None, page: int, page_size: int = PAGE_SIZE) -> IncidentPage:
    query = (
        Incident.select(Incident, Team)
        .join(Team, join_type=JOIN.LEFT_OUTER, on=(Incident.team == Team.id))
        .where(Incident.status.in_(list(statuses)))
    )
    if not viewer.is_admin:
        query = query.where(_visible(viewer))
    if team:
        query = query.where(Team.name == team)
    rows = list(query.order_by(Incident.id.desc()).offset((page - 1) * page_size).limit(page_size + 1))
    return IncidentPage(tuple(rows[:page_size]), page, len(rows) > page_size, _visible_team_names(viewer))


def visible_incident(viewer: Viewer, number: int) -> Incident:
    """The incident #number if ``viewer`` may see it; otherwise IncidentNotFound, the same
    answer as for a number that does not exist."""
    incident = Incident.get_or_none(Incident.id == number)
    if incident is None or not (viewer.is_admin or involved(incident, viewer.user_id)):
        raise IncidentNotFound(number)
    return incident


def incident_version(viewer: Viewer, number: int) -> tuple:
    """A value that changes whenever anything the incident page shows changes."""
    incident = visible_incident(viewer, number)
    last_event = IncidentEvent.select(fn.MAX(IncidentEvent.id)).where(IncidentEvent.incident == number).scalar()
    deliveries = tuple(
        NotificationLog.select(NotificationLog.status, fn.COUNT(NotificationLog.id), fn.SUM(NotificationLog.attempt_count))
        .where(NotificationLog.incident == number)
        .group_by(NotificationLog.status)
        .order_by(NotificationLog.status)
        .tuples()
    )
    return incident.status, incident.escalation_level, incident.alert_count, last_event, deliveries


def people_reach(viewer: Viewer, reach_by: Mapping[Channel, Reach], only_viewer: bool = False) -> tuple[PersonReach, ...]:
    """Everyone the viewer's teams have (everyone, for admins; the viewer alone with
    ``only_viewer``), least reachable first."""
    query = User.select().where(User.is_active)
    if only_viewer:
        query = query.where(User.id == viewer.user_id)
    elif not viewer.is_admin:
        members = TeamMember.select(TeamMember.user).where(TeamMember.team.in_(list(viewer.team_ids)))
        query = query.where(User.id.in_(members) | (User.id == viewer.user_id))
    users = list(query.order_by(User.name))
    ids = [user.id for user in users]
    reach = reachable_channels(ids, reach_by)
    slack = {row.user_id for row in SlackConnection.select(SlackConnection.user).where(
        SlackConnection.user.in_(ids) & SlackConnection.is_active)}
    teams = {row.user_id for row in TeamsConnection.select(TeamsConnection.user).where(
        TeamsConnection.user.in_(ids) & TeamsConnection.is_active
        & TeamsConnection.conversation_reference.is_null(False))}
    devices = dict(
        PushSubscription.select(PushSubscription.user, fn.COUNT(PushSubscription.id))
        .where(PushSubscription.user.in_(ids)).group_by(PushSubscription.user).tuples()
    )
    people = [
        PersonReach(
            user.id, user.handle, user.name, user.email, user.phone, user.id in slack, user.id in teams,
            devices.get(user.id, 0), tuple(sorted(reach.get(user.id, ()))),
        )
        for user in users
    ]
    return tuple(sorted(people, key=lambda person: (bool(person.reachable), person.name)))


def delivery_log(channel: str | None, status: str | None, page: int, page_size: int = PAGE_SIZE) -> tuple[tuple[LogLine, ...], bool]:
    """Every notification across incidents, FAILED first, then newest first; (lines, has_next)."""
    query = (
        NotificationLog.select(NotificationLog, User.name, Incident.title)
        .join(User, on=(NotificationLog.user == User.id))
        .switch(NotificationLog)
        .join(Incident, on=(NotificationLog.incident == Incident.id))
    )
    if channel:
        query = query.where(NotificationLog.channel == channel)
    if status:
        query = query.where(NotificationLog.status == status)
    failed_first = Case(None, ((NotificationLog.status == DeliveryStatus.FAILED, SQL("0")),), SQL("1"))
    rows = list(
        query.order_by(failed_first, NotificationLog.id.desc()).offset((page - 1) * page_size).limit(page_size + 1)
    )
    lines = tuple(
        LogLine(
            row.id, row.incident_id, row.incident.title, row.user.name, row.channel, row.kind, row.status,
            row.attempt_count, row.provider_id, row.error, row.queued_at, row.last_attempt_at,
        )
        for row in rows[:page_size]
    )
    return lines, len(rows) > page_size


def _report(viewer: Viewer, number: int) -> IncidentReport:
    return incident_report(visible_incident(viewer, number))


class WebViews:
    """The web view's reads, through ``database.run``."""

    async def incidents(self, viewer: Viewer, statuses, team: str | None, page: int) -> IncidentPage:
        return await database.run(incident_page, viewer, statuses, team, page)

    async def report(self, viewer: Viewer, number: int) -> IncidentReport:
        """Raises IncidentNotFound for an incident that does not exist or the viewer may not see."""
        return await database.run(_report, viewer, number)

    async def check_visible(self, viewer: Viewer, number: int) -> None:
        """Raises IncidentNotFound unless the viewer may see #number."""
        await database.run(visible_incident, viewer, number)

    async def version(self, viewer: Viewer, number: int) -> tuple:
        return await database.run(incident_version, viewer, number)

    async def team_names(self, viewer: Viewer) -> tuple[str, ...]:
        """The teams the viewer sees (every team, for admins)."""
        return await database.run(_visible_team_names, viewer)

    async def people(self, viewer: Viewer, reach: Mapping[Channel, Reach]) -> tuple[PersonReach, ...]:
        """Reachability over the channels of ``reach`` (``EngineConfig.reach``)."""
        return await database.run(people_reach, viewer, reach)

    async def reach_of(self, viewer: Viewer, reach: Mapping[Channel, Reach]) -> PersonReach | None:
        """The viewer's own reachability over the channels of ``reach`` (None once deactivated)."""
        found = await database.run(people_reach, viewer, reach, True)
        return found[0] if found else None

    async def log(self, channel: str | None, status: str | None, page: int) -> tuple[tuple[LogLine, ...], bool]:
        return await database.run(delivery_log, channel, status, page)
