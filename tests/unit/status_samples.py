"""Incident reports built in memory on a fixed clock, for the status views and their renderers:
a typical incident, one nobody was paged for, one that failed everywhere, a 40-person one."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidents.escalation import NextLevel, NextTier, Outlook
from incidents.report import EventLine, IncidentReport, NotificationLine, TeamPostLine
from storage.enums import Channel, Tier
from storage.models import Incident, Team

NOW = datetime(2026, 11, 30, 13, 5, tzinfo=UTC)  # 14:05 in Berlin (CET)
TRIGGERED = NOW - timedelta(minutes=5)
TWILIO_21614 = "Twilio error 21614: 'To' number is not a valid mobile number"


def incident(number: int = 42, status: str = "TRIGGERED", **fields) -> Incident:
    values = {
        "id": number, "title": "DB primary down", "priority": "CRITICAL", "service": "db", "status": status,
        "alert_count": 1, "escalation_level": 1, "triggered_at": TRIGGERED,
        "team": Team(id=1, name="payments", display_name="Payments"),
    }
    values.update(fields)
    return Incident(**values)


def page(user_id: int, person: str, channel: str, status: str, **fields) -> NotificationLine:
    values = {
        "notification_id": user_id * 10, "person": person, "channel": channel, "kind": "ALERT", "status": status,
        "attempts": 1, "provider_id": None, "error": None, "escalation_level": 1, "tier": "primary",
        "queued_at": TRIGGERED, "sent_at": None, "delivered_at": None, "last_attempt_at": TRIGGERED,
        "next_attempt_at": TRIGGERED, "user_id": user_id,
    }
    values.update(fields)
    return NotificationLine(**values)


def typical() -> tuple[IncidentReport, Outlook, dict[int, str]]:
    """Alice: Slack delivered, email failed, SMS next. Bob: SMS sent, a call being retried."""
    lines = (
        page(1, "Alice", "SLACK", "DELIVERED", sent_at=TRIGGERED, delivered_at=TRIGGERED + timedelta(minutes=1)),
        page(1, "Alice", "EMAIL", "FAILED", error="550 5.1.1 mailbox unavailable"),
        page(2, "Bob", "SMS", "SENT", sent_at=TRIGGERED + timedelta(minutes=1), tier="secondary"),
        page(2, "Bob", "VOICE", "QUEUED", attempts=2, error="HTTP 503", next_attempt_at=NOW + timedelta(minutes=2),
             tier="fallback"),
        page(1, "Alice", "SLACK", "DELIVERED", kind="STATUS"),
    )
    posts = (TeamPostLine("SLACK", "C0123", "ALERT", "DELIVERED", 1, "C0123:1.2", None, TRIGGERED, TRIGGERED, TRIGGERED, TRIGGERED),)
    events = (EventLine("UNREACHABLE", TRIGGERED, "Carol", None, "No channel can reach Carol (level 1)"),)
    outlook = Outlook(
        tiers=(NextTier(1, Tier.SECONDARY, (Channel.SMS,), TRIGGERED + timedelta(minutes=6)),),
        level=NextLevel(2, (3,), TRIGGERED + timedelta(minutes=10)),
    )
    return IncidentReport(incident(), "Payments", lines, events, posts), outlook, {3: "Dave"}


def nobody_paged() -> tuple[IncidentReport, Outlook, dict[int, str]]:
    return IncidentReport(incident(team=None), None, (), ()), Outlook(), {}


def failed_everywhere() -> tuple[IncidentReport, Outlook, dict[int, str]]:
    lines = tuple(
        page(user_id, name, channel, "FAILED", error=TWILIO_21614 if channel == "SMS" else "HTTP 403: gone", attempts=3)
        for user_id, name in ((1, "Alice"), (2, "Bob"), (3, "Carol"))
        for channel in ("EMAIL", "SLACK", "SMS", "VOICE")
    )
    return IncidentReport(incident(), "Payments", lines, ()), Outlook(), {}


def forty_people() -> tuple[IncidentReport, Outlook, dict[int, str]]:
    """40 people on six channels each; every fifth person's pages all failed with a long error."""
    channels = ("EMAIL", "SLACK", "TEAMS", "PUSH", "SMS", "VOICE")
    lines = []
    for user_id in range(1, 41):
        name = f"Person {user_id:02d} with a rather long display name"
        for channel in channels:
            if user_id % 5 == 0:
                lines.append(page(user_id, name, channel, "FAILED", error="x" * 900, attempts=5))
            else:
                lines.append(page(user_id, name, channel, "DELIVERED", sent_at=TRIGGERED, delivered_at=TRIGGERED))
    return IncidentReport(incident(title="T" * 400), "Payments", tuple(lines), ()), Outlook(), {}
