"""What every intake format shares: the limits of an incident's fields, the validated
``TriggerRequest`` every parser produces, ``IntakeError`` and the field validators.

Pure: no I/O. Every refusal is an ``IntakeError`` naming the field, ready to become a 400/422.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from storage.enums import Priority

TITLE_MAX = 500
BODY_MAX = 20_000
SERVICE_MAX = 200
TEAM_MAX = 100
DEDUP_KEY_MAX = 255
URL_MAX = 2000

GROUP_ALERTS_MAX = 1000
FINGERPRINT_MAX = 255


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
class GroupAlert:
    """One alert of a sender's group (Alertmanager, Grafana), told apart by ``fingerprint``.
    ``line`` is how it is listed in the incident's body while it fires (one line, no newline);
    ``priority`` is what its own severity maps to."""

    fingerprint: str
    firing: bool
    line: str
    priority: Priority


@dataclass(frozen=True)
class AlertGroup:
    """The alerts one notification about a group carries. The incident remembers every
    fingerprint it has seen: its ``alert_count`` is how many distinct alerts, its body lists the
    ones still firing, and its priority is raised to the most severe firing one. ``left_out``
    counts alerts the sender did not include (Alertmanager's ``truncatedAlerts``)."""

    alerts: tuple[GroupAlert, ...]
    left_out: int = 0


@dataclass(frozen=True)
class TriggerRequest:
    """A validated request to trigger (or repeat) an incident.

    ``team`` is the team the alert names, as the sender wrote it (stripped, may be anything such
    as "Payments Team"); routing decides where the incident goes and never refuses it.
    ``labels`` are the sender's labels or fields that routing rules match on. ``group`` is set by
    formats that report groups of alerts; then ``body`` is the text above the alert list."""

    title: str
    body: str = ""
    priority: Priority = Priority.HIGH
    service: str = ""
    team: str | None = None
    dedup_key: str | None = None
    dashboard_url: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    group: AlertGroup | None = None


def json_object(data: object) -> dict:
    if not isinstance(data, dict):
        raise IntakeError(None, "the body must be a JSON object", status=400)
    return data


def string(value: object, field: str, max_length: int, strip: bool = True) -> str:
    if not isinstance(value, str):
        raise IntakeError(field, "must be a string")
    if strip:
        value = value.strip()
    if len(value) > max_length:
        raise IntakeError(field, f"must be at most {max_length} characters")
    return value


def string_or_empty(value: object, field: str, max_length: int, strip: bool = True) -> str:
    return "" if value is None else string(value, field, max_length, strip)


def optional(value: object, field: str, max_length: int) -> str | None:
    return string_or_empty(value, field, max_length) or None


def title(value: object) -> str:
    if value is None:
        raise IntakeError("title", "required")
    title = string(value, "title", TITLE_MAX)
    if not title:
        raise IntakeError("title", "must not be empty")
    if has_control_characters(title):
        raise IntakeError("title", "must not contain control characters")
    return title


def priority(value: object) -> Priority:
    if value is None:
        return Priority.HIGH
    name = value.strip().upper() if isinstance(value, str) else None
    if name is None or name not in Priority.__members__:
        raise IntakeError("priority", f"must be one of {', '.join(Priority)}")
    return Priority[name]


def team(name: str | None) -> str | None:
    """The team an alert names, kept as written (control characters blanked, clipped): any
    value is accepted, since routing places an alert whatever team it names."""
    if name is None:
        return None
    cleaned = clip(without_controls(name).strip(), TEAM_MAX)
    return cleaned or None


def dashboard_url(value: object) -> str | None:
    url = optional(value, "dashboard_url", URL_MAX)
    if url is not None and not is_web_url(url):
        raise IntakeError("dashboard_url", "must be an http:// or https:// URL")
    return url


def is_web_url(url: str) -> bool:
    if len(url) > URL_MAX or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_control(character: str) -> bool:
    return unicodedata.category(character) == "Cc" and character not in "\n\t"


def has_control_characters(text: str) -> bool:
    return any(is_control(character) for character in text)


def without_controls(text: str) -> str:
    return "".join(" " if is_control(character) else character for character in text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stored_dedup_key(key: str, namespace: str) -> str:
    """The dedup key an incident is stored under for a sender's ``key``: the key itself, or a
    digest in ``namespace`` when it is longer than the column (the same for every event carrying
    the key, which is all deduplication needs)."""
    if len(key) <= DEDUP_KEY_MAX:
        return key
    return f"{namespace}:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def string_map(value: object, field: str, required: bool = False) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise IntakeError(field, "must be an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise IntakeError(f"{field}.{key}", "must be a string")
    return value


def fingerprint(value: object, labels: Mapping[str, str], field: str) -> str:
    """An alert's fingerprint as the sender gives it; when it gives none, a digest of the
    alert's labels (which is what identifies an alert); a long one is digested to fit."""
    given = optional_string(value, field).strip()
    if given and len(given) <= FINGERPRINT_MAX:
        return given
    text = given or json.dumps(sorted(labels.items()))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def optional_string(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeError(field, "must be a string")
    return value
