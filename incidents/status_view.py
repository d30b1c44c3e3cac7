"""What `/incident status 42`, Teams `status 42` and `list` show, as view models: what each
person was paged on and what became of it, in words, with times in the reader's zone. Pure:
built from an IncidentReport, the escalation outlook, the time and the zone.

The Slack and Teams renderers lay these out; they decide nothing about what a status means.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidents.escalation import Outlook
from incidents.report import IncidentReport, NotificationLine, TeamPostLine
from storage.enums import DeliveryStatus, EventKind, IncidentStatus, NotificationKind, surface_label
from storage.models import Incident

# Failures first: what a reader must act on comes before what went well.
STATUS_ORDER = (
    DeliveryStatus.FAILED, DeliveryStatus.SENDING, DeliveryStatus.QUEUED, DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED,
)
ERROR_LIMIT = 160
UNREACHABLE_NOTES = 3  # more unreachable people than this are named in one note


@dataclass(frozen=True)
class ChannelState:
    """One page: ``words`` say what became of it ("delivered 14:02", "failed: Twilio error 21614: …")."""

    channel: str
    status: str
    words: str


@dataclass(frozen=True)
class PersonStatus:
    """A person's pages, the escalation level that paged them, and their next tier if nobody
    acknowledges ("SMS at 14:06 if nobody acknowledges")."""

    name: str
    level: int | None
    channels: tuple[ChannelState, ...]
    upcoming: str | None = None

    @property
    def failed(self) -> bool:
        return any(state.status == DeliveryStatus.FAILED for state in self.channels)


@dataclass(frozen=True)
class PostStatus:
    """The incident's card in a team's chat channel."""

    channel: str
    destination: str
    status: str
    words: str


@dataclass(frozen=True)
class StatusView:
    number: int
    priority: str
    title: str
    service: str
    team: str | None
    status: str
    alert_count: int
    level: int
    zone: str
    state: tuple[str, ...]
    people: tuple[PersonStatus, ...]
    posts: tuple[PostStatus, ...]
    notes: tuple[str, ...]
    next_level: str | None
    counts: tuple[tuple[str, int], ...]

    def people_by_concern(self) -> tuple[PersonStatus, ...]:
        """People with a failed page first, otherwise in paging order."""
        return tuple(sorted(self.people, key=lambda person: not person.failed))


@dataclass(frozen=True)
class IncidentSummary:
    number: int
    priority: str
    title: str
    team: str | None
    status: str
    age: str
    acknowledged: str | None


@dataclass(frozen=True)
class ListView:
    """Open incidents, newest first; ``truncated`` when more are open than shown."""

    incidents: tuple[IncidentSummary, ...]
    zone: str
    truncated: bool = False


class _Clock:
    """Times as the reader reads them: "14:02" today, "30 Nov 14:02" on other days."""

    def __init__(self, now: datetime, time_zone: str):
        try:
            self.zone = ZoneInfo(time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.now = now
        self.today = now.astimezone(self.zone).date()

    def label(self) -> str:
        """The zone, as a reader recognises it: "UTC", or "Europe/Berlin (CET)"."""
        name = str(self.zone.key)
        abbreviation = self.now.astimezone(self.zone).tzname()
        return name if name in ("UTC", abbreviation) else f"{name} ({abbreviation})"

    def __call__(self, moment: datetime | None) -> str:
        if moment is None:
            return "at an unknown time"
        local = moment.astimezone(self.zone)
        return f"{local:%H:%M}" if local.date() == self.today else f"{local.day} {local:%b %H:%M}"


def channel_label(channel: str) -> str:
    """"Email", "SMS", "Phone", "Slack": a channel as a person names it."""
    label = surface_label(channel)
    return label[:1].upper() + label[1:]


def build_status_view(
    report: IncidentReport, outlook: Outlook, names: dict[int, str], now: datetime, time_zone: str
) -> StatusView:
    """The status of ``report``'s incident for a reader in ``time_zone``; ``names`` are the
    people ``outlook`` mentions, by user id."""
    clock = _Clock(now, time_zone)
    incident = report.incident
    pages = [line for line in report.notifications if line.kind != NotificationKind.STATUS]
    counts = Counter(line.status for line in pages)
    return StatusView(
        number=incident.id, priority=incident.priority, title=incident.title, service=incident.service or "",
        team=report.team_name, status=incident.status, alert_count=incident.alert_count,
        level=incident.escalation_level, zone=clock.label(), state=_state(incident, clock),
        people=_people(pages, outlook, clock), posts=tuple(_post(post, clock) for post in report.team_posts),
        notes=_notes(report), next_level=_next_level(outlook, names, clock),
        counts=tuple((status, counts[status]) for status in STATUS_ORDER if counts[status]),
    )


def _state(incident: Incident, clock: _Clock) -> tuple[str, ...]:
    lines = []
    if incident.acknowledged_at:
        by, via = incident.acknowledged_by_name, surface_label(incident.acknowledged_via)
        lines.append(f"Acknowledged by {by} via {via} at {clock(incident.acknowledged_at)}")
    if incident.resolved_at:
        lines.append(f"Resolved by {incident.resolved_by_name} via {surface_label(incident.resolved_via)} at {clock(incident.resolved_at)}")
    if not lines:
        lines.append(f"Triggered {clock(incident.triggered_at)}, waiting for someone to acknowledge")
    return tuple(lines)


def _people(pages: list[NotificationLine], outlook: Outlook, clock: _Clock) -> tuple[PersonStatus, ...]:
    grouped: dict[tuple[int | None, str], list[NotificationLine]] = {}
    for line in pages:
        grouped.setdefault((line.user_id, line.person), []).append(line)
    upcoming = {tier.user_id: tier for tier in outlook.tiers}
    people = []
    for (user_id, name), lines in grouped.items():
        levels = [line.escalation_level for line in lines if line.escalation_level is not None]
        next_tier = upcoming.get(user_id) if user_id is not None else None
        words = None
        if next_tier is not None:
            channels = " and ".join(channel_label(channel) for channel in next_tier.channels)
            words = f"{channels} {_when(next_tier.at, clock)} if nobody acknowledges"
        states = tuple(ChannelState(line.channel, line.status, _page_words(line, clock)) for line in lines)
        people.append(PersonStatus(name, min(levels) if levels else None, states, words))
    return tuple(people)


def _when(at: datetime, clock: _Clock) -> str:
    return "any moment now" if at <= clock.now else f"at {clock(at)}"


def _page_words(line: NotificationLine | TeamPostLine, clock: _Clock) -> str:
    words = _status_words(line, clock)
    return f"{words} ({line.attempts} tries)" if line.attempts > 1 else words


def _status_words(line: NotificationLine | TeamPostLine, clock: _Clock) -> str:
    status = line.status
    if status == DeliveryStatus.DELIVERED:
        return f"delivered {clock(line.delivered_at or line.sent_at)}"
    if status == DeliveryStatus.SENT:
        return f"sent {clock(line.sent_at)}, waiting for a receipt"
    if status == DeliveryStatus.SENDING:
        return f"sending since {clock(line.last_attempt_at or line.queued_at)}"
    if status == DeliveryStatus.FAILED:
        return f"failed: {_error(line.error) or 'no reason recorded'}"
    if status == DeliveryStatus.CANCELLED:
        return "cancelled: no longer needed"
    next_try = line.next_attempt_at
    if next_try is not None and next_try > clock.now:
        retrying = f" after: {_error(line.error)}" if line.error else ""
        return f"queued, next try {clock(next_try)}{retrying}"
    return f"queued {clock(line.queued_at)}, about to be sent"


def _error(error: str | None) -> str:
    text = " ".join((error or "").split())
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1].rstrip() + "…"


def _post(post: TeamPostLine, clock: _Clock) -> PostStatus:
    return PostStatus(post.channel, post.destination, post.status, _page_words(post, clock))


def _notes(report: IncidentReport) -> tuple[str, ...]:
    """Who could not be reached (from the timeline; many are named in one note), or that nobody
    was paged."""
    unreachable = [event for event in report.events if event.kind == EventKind.UNREACHABLE]
    if len(unreachable) <= UNREACHABLE_NOTES:
        notes = [event.message for event in unreachable]
    else:
        people = ", ".join(dict.fromkeys(event.person or "someone" for event in unreachable))
        notes = [f"No channel can reach {len(unreachable)} people: {people}"]
    if not report.notifications and not notes:
        notes.append("Nobody was paged for this incident.")
    return tuple(notes)


def _next_level(outlook: Outlook, names: dict[int, str], clock: _Clock) -> str | None:
    """"Level 2 (Bob, Carol) at 14:10 if nobody acknowledges"."""
    if outlook.level is None:
        return None
    people = ", ".join(names.get(user_id, f"user {user_id}") for user_id in outlook.level.user_ids) or "nobody"
    return f"Level {outlook.level.level} ({people}) {_when(outlook.level.at, clock)} if nobody acknowledges"


def build_list_view(incidents: list[Incident], truncated: bool, now: datetime, time_zone: str) -> ListView:
    """Open incidents as the reader should see them; ``incidents`` have their team joined."""
    clock = _Clock(now, time_zone)
    return ListView(tuple(_summary(incident, clock) for incident in incidents), clock.label(), truncated)


def _summary(incident: Incident, clock: _Clock) -> IncidentSummary:
    acknowledged = None
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        acknowledged = _state(incident, clock)[0]
    team = (incident.team.display_name or incident.team.name) if incident.team is not None else None
    return IncidentSummary(
        number=incident.id, priority=incident.priority, title=incident.title, team=team, status=incident.status,
        age=age(clock.now - incident.triggered_at), acknowledged=acknowledged,
    )


def age(elapsed) -> str:
    """"5 min", "3 h 20 min", "2 days": how long ago, roughly."""
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"
