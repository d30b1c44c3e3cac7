"""The stored vocabularies: every status, channel and kind a column may hold."""
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    PUSH = "PUSH"
    SLACK = "SLACK"
    TEAMS = "TEAMS"
    VOICE = "VOICE"


class DeliveryStatus(StrEnum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Priority(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"


class IncidentStatus(StrEnum):
    TRIGGERED = "TRIGGERED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class Tier(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    FALLBACK = "fallback"


class NotificationKind(StrEnum):
    ALERT = "ALERT"
    STATUS = "STATUS"
    TEST = "TEST"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class EventKind(StrEnum):
    TRIGGERED = "TRIGGERED"
    REPEATED = "REPEATED"
    UPDATED = "UPDATED"
    NOTIFIED = "NOTIFIED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
    ESCALATED = "ESCALATED"
    UNREACHABLE = "UNREACHABLE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    CANCELLED = "CANCELLED"
    ON_CALL = "ON_CALL"  # whom a schedule had on call when a level was paged (or that nobody was)


OPEN_INCIDENT_STATUSES = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)

_SURFACE_LABELS = {
    "EMAIL": "email", "SMS": "SMS", "VOICE": "phone", "PUSH": "push", "SLACK": "Slack", "TEAMS": "Teams",
    "API": "the API", "ALERTMANAGER": "Alertmanager", "CLI": "the command line", "TEST": "a test", "WEB": "the web view",
    "PAGERDUTY": "the PagerDuty Events API", "OPSGENIE": "the Opsgenie Alert API",
    "HEARTBEAT": "a ping", "GRAFANA": "Grafana", "ONCALL": "an OnCall integration URL",
    "NOTICE": "a notice",
}


def surface_label(via: str | None) -> str:
    """How people read the surface someone acted through: "via Slack", "via the API"."""
    return _SURFACE_LABELS.get(via or "", via or "unknown")
