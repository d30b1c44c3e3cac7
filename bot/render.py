"""Plain-text views shared by the CLI and the chat surfaces: the delivery grid, incident lists,
and the answers every surface gives in the same words (acknowledged, already acknowledged, no such
incident, not allowed, ...). A surface may dress an answer (escape it for Slack, put it on a
card) but does not word it again."""
from __future__ import annotations

from datetime import datetime

from incidents.report import IncidentReport
from incidents.service import ActionOutcome
from storage.enums import Action, surface_label
from storage.models import Incident


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def incident_headline(incident: Incident) -> str:
    service = f" · {incident.service}" if incident.service else ""
    return f"#{incident.id} {incident.priority}{service} · {incident.title} [{incident.status}]"


def status_grid(report: IncidentReport) -> str:
    """The per-person, per-channel grid with attempts, provider id, last error and times (UTC)."""
    incident = report.incident
    lines = [
        incident_headline(incident),
        f"team {report.team_name or '-'} · alerts {incident.alert_count} · level {incident.escalation_level}"
        f" · triggered {_time(incident.triggered_at)} UTC",
    ]
    if incident.acknowledged_at:
        via = surface_label(incident.acknowledged_via)
        lines.append(f"acknowledged by {incident.acknowledged_by_name} via {via} at {_time(incident.acknowledged_at)}")
    if incident.resolved_at:
        via = surface_label(incident.resolved_via)
        lines.append(f"resolved by {incident.resolved_by_name} via {via} at {_time(incident.resolved_at)}")
    if not report.notifications and not report.team_posts:
        lines.append("no notifications")
        return "\n".join(lines)
    header = ("person", "channel", "kind", "status", "tries", "level", "queued", "sent", "delivered", "provider id", "last error")
    rows = [
        _grid_row(line.person, line, str(line.escalation_level or "-")) for line in report.notifications
    ] + [
        _grid_row(f"team channel {post.destination}", post, "-") for post in report.team_posts
    ]
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _grid_row(who: str, line, level: str) -> tuple[str, ...]:
    return (
        who, line.channel, line.kind, line.status, str(line.attempts), level, _time(line.queued_at),
        _time(line.sent_at), _time(line.delivered_at), line.provider_id or "-", (line.error or "-")[:80],
    )


def timeline_text(report: IncidentReport) -> str:
    """The incident's timeline, one event a line, oldest first (UTC)."""
    lines = ["timeline:"]
    lines += [f"  {_time(event.at)}  {event.message}" for event in report.events]
    return "\n".join(lines if report.events else ["timeline: nothing recorded"])


def incident_list(incidents: list[Incident]) -> str:
    if not incidents:
        return "no open incidents"
    return "\n".join(incident_headline(incident) for incident in incidents)


CALENDAR_ELSEWHERE = "Say /incident calendar in Slack for your calendar link, or ask an admin (ackbot calendar-link)."
NO_CHANNEL_YET = "No channel can reach you yet: ask an admin to add your email or phone, or link Slack or Teams."


def not_found(error: LookupError) -> str:
    """What a look-up that found nothing says: "There is no incident #42."."""
    return f"There is {error}."


def no_incident(number: int) -> str:
    return f"There is no incident #{number}."


def not_involved(number: int) -> str:
    """The refusal for a person neither on the incident's team nor paged for it."""
    return (
        f"Sorry, you can't act on #{number}: you are neither on its team nor paged for it. "
        "Ask someone on the team, or the team's lead."
    )


def no_page_yet(verb: str) -> str:
    """A bare ack/resolve from someone who was paged nowhere on this surface yet."""
    return f"No page was sent to you here yet; say {verb[:3]} 42 to name the incident."


def sending_test_pages(channels) -> str:
    return f"Test page on its way to: {', '.join(channel.lower() for channel in channels)}."


def action_answer(outcome: ActionOutcome) -> str:
    """"#42 acknowledged." or "#42 was already acknowledged by Alice via SLACK at …"."""
    number = outcome.incident.id
    verb = "acknowledged" if outcome.action == Action.ACKNOWLEDGE else "resolved"
    if outcome.changed:
        return f"#{number} {verb} by {outcome.by} via {surface_label(outcome.via)}."
    state = outcome.incident.status.lower()
    return f"#{number} was already {state} by {outcome.by} via {surface_label(outcome.via)} at {_time(outcome.at)} UTC; nothing changed."
