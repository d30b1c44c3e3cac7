"""Opsgenie Alert API requests (``/v2/alerts``), parsed and validated. Pure.

Create bodies come from Alertmanager's ``opsgenie_configs`` (``details`` are the common labels,
``alias`` a digest of the group key), Grafana's Opsgenie contact point (``details.url`` the rule
list, ``tags`` as ``key:value``, ``source: "Grafana"``) and scripts. ``message`` is required, as
Opsgenie requires it; every other field may be missing, and text longer than Ackbot keeps is
clipped rather than refused. An unknown ``priority`` counts as Opsgenie's default, P3.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from incidents.intake import fields
from incidents.intake.fields import BODY_MAX, SERVICE_MAX, TITLE_MAX, IntakeError, TriggerRequest
from incidents.intake.severity import priority_of
from storage.enums import Priority

IDENTIFIER_TYPES = ("id", "alias", "tiny")
# Opsgenie's priority when a create names none.
DEFAULT_PRIORITY = Priority.MEDIUM
ALIAS_MAX = 512
_DASHBOARD_DETAILS = ("url", "dashboardURL", "dashboard_url", "runbook_url", "generatorURL")


@dataclass(frozen=True)
class OpsgenieAlert:
    """A create request: ``alias`` as the sender gave it ("" for none), and the trigger."""

    alias: str
    trigger: TriggerRequest


@dataclass(frozen=True)
class AlertReference:
    """Which alert a close/acknowledge/update names: by ``alias`` (``dedup_key`` is the dedup
    key its incident is stored under), or by ``id``/``tiny`` (``number`` is the incident's
    number; None when the identifier is not one, so no alert has it)."""

    kind: str
    identifier: str
    dedup_key: str | None = None
    number: int | None = None


@dataclass(frozen=True)
class ActionNote:
    """What a close or acknowledge body says: ``user`` acting, ``source``, ``note``."""

    user: str = ""
    source: str = ""
    note: str = ""


def parse_create(data: object) -> OpsgenieAlert:
    """A ``POST /v2/alerts`` body. Raises IntakeError (422 naming the field; 400 when the body
    is not an object)."""
    body = fields.json_object(data)
    message = fields.without_controls(_text(body.get("message"), "message")).strip()
    if not message:
        raise IntakeError("message", "Message can not be empty.")
    alias = _text(body.get("alias"), "alias")
    details = _details(body.get("details"))
    tags = _strings(body.get("tags"), "tags")
    entity = _text(body.get("entity"), "entity")
    priority = _text(body.get("priority"), "priority")
    given = {"entity": entity, "priority": priority, "source": _text(body.get("source"), "source")}
    labels = {**_tag_labels(tags), **details, **{name: value for name, value in given.items() if value}}
    description = _text(body.get("description"), "description", strip=False)
    trigger = TriggerRequest(
        title=fields.clip(message, TITLE_MAX),
        body=fields.clip(_body(description, details, _text(body.get("note"), "note")), BODY_MAX),
        priority=priority_of(priority) or DEFAULT_PRIORITY,
        service=fields.clip(entity, SERVICE_MAX),
        team=fields.team(_responder_team(body.get("responders")) or labels.get("team")),
        dedup_key=fields.stored_dedup_key(alias, "opsgenie") if alias else None,
        dashboard_url=next(
            (details[name] for name in _DASHBOARD_DETAILS if fields.is_web_url(details.get(name, ""))), None
        ),
        labels=labels,
    )
    return OpsgenieAlert(alias, trigger)


def parse_reference(identifier: str, identifier_type: str | None) -> AlertReference:
    """The alert ``/v2/alerts/{identifier}/…?identifierType=…`` names; Opsgenie's default type
    is ``id``. Raises IntakeError (422) for an unknown type or an identifier no alert can have."""
    kind = (identifier_type or "id").strip().lower()
    if kind not in IDENTIFIER_TYPES:
        raise IntakeError("identifierType", "Invalid identifier type. Valid identifier types are [id, tiny, alias]")
    if fields.has_control_characters(identifier):
        raise IntakeError("identifier", "must not contain control characters")
    if kind == "alias":
        return AlertReference(kind, identifier, dedup_key=fields.stored_dedup_key(identifier, "opsgenie"))
    number = int(identifier) if identifier.isascii() and identifier.isdigit() and len(identifier) < 10 else None
    return AlertReference(kind, identifier, number=number)


def parse_note(data: object) -> ActionNote:
    """A close or acknowledge body; it may be empty (``None``) or ``{}``."""
    if data is None:
        return ActionNote()
    body = fields.json_object(data)
    return ActionNote(
        user=fields.clip(fields.without_controls(_text(body.get("user"), "user")), 100),
        source=_text(body.get("source"), "source"),
        note=_text(body.get("note"), "note"),
    )


def parse_message(data: object) -> str:
    """A ``PUT …/message`` body: the new title."""
    message = fields.without_controls(_text(fields.json_object(data).get("message"), "message")).strip()
    if not message:
        raise IntakeError("message", "Message can not be empty.")
    return fields.clip(message, TITLE_MAX)


def parse_description(data: object) -> str:
    """A ``PUT …/description`` body: the new body text (may be empty)."""
    return fields.clip(_text(fields.json_object(data).get("description"), "description", strip=False), BODY_MAX)


def _text(value: object, field: str, strip: bool = True) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeError(field, f"{field} should be a string.")
    return value.strip() if strip else value


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IntakeError(field, f"{field} should be a list of strings.")
    return value


def _details(value: object) -> dict[str, str]:
    """``details``, every value as text (Opsgenie keeps them as strings; Grafana's are)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IntakeError("details", "details should be an object.")
    return {str(name): item if isinstance(item, str) else json.dumps(item) for name, item in value.items()}


def _tag_labels(tags: list[str]) -> dict[str, str]:
    """Grafana sends labels as ``key:value`` tags."""
    pairs = (tag.partition(":") for tag in tags)
    return {name.strip(): value.strip() for name, colon, value in pairs if colon and name.strip()}


def _responder_team(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise IntakeError("responders", "responders should be a list of objects.")
    names = (
        item.get("name") for item in value if str(item.get("type", "")).lower() in ("team", "teams")
    )
    return next((name.split(",")[0].strip() for name in names if isinstance(name, str) and name.strip()), None)


def _body(description: str, details: dict[str, str], note: str) -> str:
    parts = [description.strip()] if description.strip() else []
    if details:
        parts.append("\n".join(f"{name}: {value}" for name, value in details.items()))
    if note:
        parts.append(f"Note: {note}")
    return "\n\n".join(parts)
