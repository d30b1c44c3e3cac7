"""PagerDuty Events API v2 events (``POST /v2/enqueue``), parsed and validated. Pure.

Senders differ in small ways, and all of them are accepted: pdpyras and Alertmanager put
``routing_key`` in the body, Kibana sends it in an ``X-Routing-Key`` header; acknowledge and
resolve events carry no payload (Kibana, pdpyras) or the trigger's again (Alertmanager), which is
ignored. What PagerDuty itself refuses with 400 (no routing key, an unknown ``event_action``, a
trigger without ``payload.summary``, a wrongly typed field) is refused here with the field named;
what it would accept is accepted, and an unknown ``severity`` maps to the default priority
rather than losing the page.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from incidents.intake import fields
from incidents.intake.fields import BODY_MAX, SERVICE_MAX, TITLE_MAX, IntakeError, TriggerRequest
from incidents.intake.severity import DEFAULT_PRIORITY, priority_of

# PagerDuty's limit on one event.
EVENT_MAX_BYTES = 512 * 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
_PAYLOAD_TEXT_FIELDS = ("source", "component", "group", "class")


@dataclass(frozen=True)
class PagerDutyEvent:
    """One event. ``dedup_key`` is the sender's (or, for a trigger without one, the generated
    key the answer returns); ``incident_key`` is the dedup key the incident is stored under;
    ``trigger`` is set for triggers only."""

    routing_key: str
    action: str
    dedup_key: str
    incident_key: str
    trigger: TriggerRequest | None = None


def parse_event(data: object, header_routing_key: str | None, new_dedup_key: Callable[[], str]) -> PagerDutyEvent:
    """An Events API v2 body as a PagerDutyEvent. ``header_routing_key`` is the
    ``X-Routing-Key`` header (used when the body has no ``routing_key``); ``new_dedup_key``
    makes the key of a trigger that brings none. Raises IntakeError with status 400."""
    if not isinstance(data, dict):
        raise IntakeError(None, "the event must be a JSON object", 400)
    routing_key = _text(data.get("routing_key"), "routing_key") or (header_routing_key or "").strip()
    if not routing_key:
        raise IntakeError("routing_key", "is missing or blank", 400)
    action = _action(data.get("event_action"))
    dedup_key = _text(data.get("dedup_key"), "dedup_key")
    if not dedup_key and action != "trigger":
        raise IntakeError("dedup_key", "is missing or blank (required to acknowledge or resolve)", 400)
    dedup_key = dedup_key or new_dedup_key()
    incident_key = fields.stored_dedup_key(dedup_key, "pagerduty")
    trigger = _trigger(data, incident_key) if action == "trigger" else None
    return PagerDutyEvent(routing_key, action, dedup_key, incident_key, trigger)


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeError(field, "must be a string", 400)
    return value.strip()


def _action(value: object) -> str:
    action = _text(value, "event_action").lower()
    if not action:
        raise IntakeError("event_action", "is missing or blank", 400)
    if action not in ACTIONS:
        raise IntakeError(
            "event_action", "is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')", 400
        )
    return action


def _trigger(data: dict, incident_key: str) -> TriggerRequest:
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise IntakeError("payload", "is missing or not an object (required to trigger)", 400)
    summary = fields.without_controls(_text(payload.get("summary"), "payload.summary")).strip()
    if not summary:
        raise IntakeError("payload.summary", "is missing or blank", 400)
    texts = {name: _text(payload.get(name), f"payload.{name}") for name in _PAYLOAD_TEXT_FIELDS}
    severity = _text(payload.get("severity"), "payload.severity")
    details = payload.get("custom_details")
    links = _references(data.get("links"), "links")
    images = _references(data.get("images"), "images")
    labels = {**_detail_labels(details), **{name: value for name, value in texts.items() if value}}
    if severity:
        labels["severity"] = severity
    dashboard = _dashboard_url(links, images, _text(data.get("client_url"), "client_url"))
    return TriggerRequest(
        title=fields.clip(summary, TITLE_MAX),
        body=fields.clip("\n".join(_body_lines(texts, details, links, dashboard)), BODY_MAX),
        priority=priority_of(severity) or DEFAULT_PRIORITY,
        service=fields.clip(texts["component"] or texts["group"], SERVICE_MAX),
        team=fields.team(labels.get("team")),
        dedup_key=incident_key,
        dashboard_url=dashboard,
        labels=labels,
    )


def _references(value: object, field: str) -> list[dict]:
    """``links`` or ``images``: a list of objects (entries without a usable ``href`` are kept
    for the body and skipped for the dashboard link)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise IntakeError(field, "must be a list of objects", 400)
    return value


def _detail_labels(details: object) -> dict[str, str]:
    if not isinstance(details, dict):
        return {}
    return {str(name): value.strip() for name, value in details.items() if isinstance(value, str) and value.strip()}


def _dashboard_url(links: list[dict], images: list[dict], client_url: str) -> str | None:
    candidates = (
        *(link.get("href") for link in links),
        *(image.get("href") for image in images),
        client_url,
    )
    return next((url for url in candidates if isinstance(url, str) and fields.is_web_url(url)), None)


def _body_lines(texts: dict[str, str], details: object, links: list[dict], dashboard: str | None) -> list[str]:
    lines = [f"{name.capitalize()}: {value}" for name, value in texts.items() if value]
    if isinstance(details, dict):
        lines += [f"{name}: {_shown(value)}" for name, value in details.items()]
    elif details is not None:
        lines.append(_shown(details))
    for link in links:
        href = link.get("href")
        if isinstance(href, str) and href and href != dashboard:
            text = link.get("text")
            lines.append(f"{text}: {href}" if isinstance(text, str) and text else href)
    return lines


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
