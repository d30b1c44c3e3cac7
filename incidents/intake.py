"""What monitoring systems send, parsed and validated: the REST intake body
(``POST /api/v1/incidents``) and Prometheus Alertmanager's webhook (payload version "4").

Pure: no I/O. Every refusal is an ``IntakeError`` naming the field, ready to become a 400/422.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from storage.enums import Priority

TITLE_MAX = 500
BODY_MAX = 20_000
SERVICE_MAX = 200
TEAM_MAX = 100
DEDUP_KEY_MAX = 255
URL_MAX = 2000

# The people file's team slugs, read case-insensitively: a monitoring label "Payments" still
# reaches team "payments".
_TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,%d}" % (TEAM_MAX - 1), re.IGNORECASE)
_REQUEST_FIELDS = frozenset(
    {"title", "body", "priority", "service", "team", "dedup_key", "dashboard_url"}
)
_ALERT_STATUSES = ("firing", "resolved")
_SEVERITY_PRIORITY = {
    "critical": Priority.CRITICAL,
    "error": Priority.HIGH,
    "high": Priority.HIGH,
    "page": Priority.HIGH,
    "warning": Priority.MEDIUM,
    "low": Priority.LOW,
    "info": Priority.INFO,
    "none": Priority.INFO,
}
_FALLBACK_GROUP_TITLE = "Alertmanager alert group"


class IntakeError(Exception):
    """A refused intake body. ``field`` names what is wrong (a path such as ``alerts[3].status``
    for nested values; None for the body as a whole); ``status`` is the HTTP status to answer:
    400 when the body is not a JSON object, 422 when a field is missing or has a bad value."""

    def __init__(self, field: str | None, message: str, status: int = 422):
        super().__init__(field, message, status)
        self.field = field
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class TriggerRequest:
    """A validated request to trigger (or repeat) an incident; ``team`` is a lower-case team name."""

    title: str
    body: str = ""
    priority: Priority = Priority.HIGH
    service: str = ""
    team: str | None = None
    dedup_key: str | None = None
    dashboard_url: str | None = None


@dataclass(frozen=True)
class AlertmanagerGroup:
    """One Alertmanager notification about an alert group. ``firing``: some alert in it fires;
    ``resolved_all``: the group as a whole is resolved; ``trigger`` carries the dedup key
    shared by every notification about this group."""

    group_key: str
    firing: bool
    resolved_all: bool
    firing_count: int
    trigger: TriggerRequest


@dataclass(frozen=True)
class _Alert:
    firing: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str


def parse_incident_request(data: object) -> TriggerRequest:
    """The ``POST /api/v1/incidents`` JSON body as a TriggerRequest.

    ``title`` is required; every other field may be absent or null. Strings are stripped except
    ``body``; ``team`` is lower-cased; an empty ``team``, ``dedup_key`` or ``dashboard_url``
    counts as absent. Unknown
    fields are refused, so a misspelt field is an error rather than silently ignored."""
    fields = _json_object(data)
    for name in fields:
        if name not in _REQUEST_FIELDS:
            raise IntakeError(name, "unknown field")
    return TriggerRequest(
        title=_title(fields.get("title")),
        body=_string_or_empty(fields.get("body"), "body", BODY_MAX, strip=False),
        priority=_priority(fields.get("priority")),
        service=_string_or_empty(fields.get("service"), "service", SERVICE_MAX),
        team=_team(_optional(fields.get("team"), "team", TEAM_MAX), "team"),
        dedup_key=_optional(fields.get("dedup_key"), "dedup_key", DEDUP_KEY_MAX),
        dashboard_url=_dashboard_url(fields.get("dashboard_url")),
    )


def parse_alertmanager(data: object) -> AlertmanagerGroup:
    """An Alertmanager webhook payload (version "4") as an AlertmanagerGroup.

    The payload's structure is validated strictly; the text Alertmanager's templates produce
    (summary, descriptions) is clipped to fit rather than refused, so a long annotation never
    loses a page. Fields Ackbot does not use are ignored, as later Alertmanagers may add some."""
    payload = _json_object(data)
    if payload.get("version") != "4":
        raise IntakeError("version", 'must be "4"')
    group_key = payload.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise IntakeError("groupKey", "must be a non-empty string")
    status = _alert_status(payload.get("status"), "status")
    alerts = _alerts(payload.get("alerts"))
    firing_count = sum(alert.firing for alert in alerts)
    return AlertmanagerGroup(
        group_key=group_key,
        firing=firing_count > 0,
        resolved_all=status == "resolved",
        firing_count=firing_count,
        trigger=_group_trigger(payload, group_key, alerts),
    )


def _json_object(data: object) -> dict:
    if not isinstance(data, dict):
        raise IntakeError(None, "the body must be a JSON object", status=400)
    return data


def _string(value: object, field: str, max_length: int, strip: bool = True) -> str:
    if not isinstance(value, str):
        raise IntakeError(field, "must be a string")
    if strip:
        value = value.strip()
    if len(value) > max_length:
        raise IntakeError(field, f"must be at most {max_length} characters")
    return value


def _string_or_empty(value: object, field: str, max_length: int, strip: bool = True) -> str:
    return "" if value is None else _string(value, field, max_length, strip)


def _optional(value: object, field: str, max_length: int) -> str | None:
    return _string_or_empty(value, field, max_length) or None


def _title(value: object) -> str:
    if value is None:
        raise IntakeError("title", "required")
    title = _string(value, "title", TITLE_MAX)
    if not title:
        raise IntakeError("title", "must not be empty")
    if _has_control_characters(title):
        raise IntakeError("title", "must not contain control characters")
    return title


def _priority(value: object) -> Priority:
    if value is None:
        return Priority.HIGH
    name = value.strip().upper() if isinstance(value, str) else None
    if name not in Priority.__members__:
        raise IntakeError("priority", f"must be one of {', '.join(Priority)}")
    return Priority[name]


def _team(name: str | None, field: str) -> str | None:
    if name is None:
        return None
    if not _TEAM_NAME.fullmatch(name):
        raise IntakeError(
            field, f"must be a team name: up to {TEAM_MAX} letters, digits, '-' or '_'"
        )
    return name.lower()


def _dashboard_url(value: object) -> str | None:
    url = _optional(value, "dashboard_url", URL_MAX)
    if url is not None and not _is_web_url(url):
        raise IntakeError("dashboard_url", "must be an http:// or https:// URL")
    return url


def _is_web_url(url: str) -> bool:
    if len(url) > URL_MAX or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_control(character: str) -> bool:
    return unicodedata.category(character) == "Cc" and character not in "\n\t"


def _has_control_characters(text: str) -> bool:
    return any(_is_control(character) for character in text)


def _alert_status(value: object, field: str) -> str:
    if value not in _ALERT_STATUSES:
        raise IntakeError(field, 'must be "firing" or "resolved"')
    return value


def _string_map(value: object, field: str, required: bool = False) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise IntakeError(field, "must be an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise IntakeError(f"{field}.{key}", "must be a string")
    return value


def _optional_string(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeError(field, "must be a string")
    return value


def _alerts(value: object) -> list[_Alert]:
    if not isinstance(value, list):
        raise IntakeError("alerts", "must be a list")
    return [_alert(item, f"alerts[{index}]") for index, item in enumerate(value)]


def _alert(item: object, path: str) -> _Alert:
    if not isinstance(item, dict):
        raise IntakeError(path, "must be an object")
    return _Alert(
        firing=_alert_status(item.get("status"), f"{path}.status") == "firing",
        labels=_string_map(item.get("labels"), f"{path}.labels", required=True),
        annotations=_string_map(item.get("annotations"), f"{path}.annotations"),
        generator_url=_optional_string(item.get("generatorURL"), f"{path}.generatorURL"),
    )


def _truncated_count(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntakeError("truncatedAlerts", "must be a non-negative integer")
    return value


def _group_trigger(payload: dict, group_key: str, alerts: list[_Alert]) -> TriggerRequest:
    labels = _string_map(payload.get("commonLabels"), "commonLabels")
    annotations = _string_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_labels = _string_map(payload.get("groupLabels"), "groupLabels")
    external_url = _optional_string(payload.get("externalURL"), "externalURL")
    truncated = _truncated_count(payload.get("truncatedAlerts"))
    severity = labels.get("severity", "").strip().lower()
    return TriggerRequest(
        title=_group_title(annotations, labels, group_labels),
        body=_clip("\n".join(_group_body_lines(alerts, truncated)), BODY_MAX),
        priority=_SEVERITY_PRIORITY.get(severity, Priority.HIGH),
        service=_clip((labels.get("service") or labels.get("job") or "").strip(), SERVICE_MAX),
        team=_team(labels.get("team") or None, "commonLabels.team"),
        dedup_key=_group_dedup_key(group_key),
        dashboard_url=_group_dashboard_url(external_url, alerts),
    )


def _group_title(annotations: dict, labels: dict, group_labels: dict) -> str:
    candidates = (
        annotations.get("summary", ""),
        labels.get("alertname", ""),
        ", ".join(group_labels.values()),
    )
    cleaned = (_without_controls(text).strip() for text in candidates)
    return _clip(next((text for text in cleaned if text), _FALLBACK_GROUP_TITLE), TITLE_MAX)


def _without_controls(text: str) -> str:
    return "".join(" " if _is_control(character) else character for character in text)


def _group_body_lines(alerts: list[_Alert], truncated: int) -> list[str]:
    lines = []
    for alert in alerts:
        if not alert.firing:
            continue
        name = " ".join(filter(None, (alert.labels.get("alertname"), alert.labels.get("instance"))))
        name = name or "alert"
        detail = alert.annotations.get("description") or alert.annotations.get("summary")
        lines.append(f"- {name}: {detail}" if detail else f"- {name}")
    if truncated:
        lines.append(f"- … and {truncated} more alerts Alertmanager left out (max_alerts)")
    return lines


def _group_dashboard_url(external_url: str, alerts: list[_Alert]) -> str | None:
    candidates = (external_url, *(alert.generator_url for alert in alerts[:1]))
    return next((url for url in candidates if _is_web_url(url)), None)


def _group_dedup_key(group_key: str) -> str:
    key = "alertmanager:" + group_key
    if len(key) <= DEDUP_KEY_MAX:
        return key
    # Deep routing trees and many group_by labels make group keys longer than the dedup_key
    # column; a digest stays the same for every notification about the group, which is all
    # deduplication needs.
    return "alertmanager:sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
