"""Opsgenie Alert API requests: each acts on an incident at once and keeps its outcome.

Opsgenie processes alert requests asynchronously: a valid request is answered 202 with a request
id whatever then happens (closing an alert that does not exist included), and
``GET /v2/alerts/requests/{id}`` tells the outcome. Ackbot acts before answering, and keeps
each outcome for ``OUTCOME_RETENTION`` so that look-up works the same way.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.intake.opsgenie import ActionNote, AlertReference, OpsgenieAlert
from incidents.service import Actor, IncidentNotFound, IncidentService
from storage.database import database, write_transaction
from storage.enums import Action
from storage.models import ApiKey, OpsgenieRequest

OUTCOME_RETENTION = timedelta(days=7)
VIA = "OPSGENIE"
_ACTION_NAMES = {Action.ACKNOWLEDGE: "Acknowledge", Action.RESOLVE: "Close"}
_DONE = {Action.ACKNOWLEDGE: "Acknowledged alert", Action.RESOLVE: "Closed alert"}
_NO_ALERT = "Alert does not exist"

# The request ids Ackbot hands out (UUIDs); anything else names no request.
_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class RequestOutcome:
    """What one request did, as the request-status look-up reports it."""

    request_id: str
    action: str
    success: bool
    status: str
    incident_id: int | None
    alias: str
    processed_at: datetime


async def create_alert(service: IncidentService, alert: OpsgenieAlert, key: ApiKey) -> RequestOutcome:
    """Trigger (or repeat, by alias) the alert's incident, routed with ``key``."""
    outcome = await service.trigger(alert.trigger, key=key)
    status = "Created alert" if outcome.created else "Alert is deduplicated"
    alias = alert.alias or str(outcome.incident.id)
    return await _record(key, "Create", True, status, outcome.incident.id, alias, service.clock())


async def act_on_alert(
    service: IncidentService, reference: AlertReference, action: Action, note: ActionNote, key: ApiKey,
) -> RequestOutcome:
    """Close (resolve) or acknowledge the alert ``reference`` names."""
    name = _ACTION_NAMES[action]
    number = await _number(service, reference)
    if number is None:
        return await _record(key, name, False, _NO_ALERT, None, reference.identifier, service.clock())
    actor = Actor(name=note.user or f"API key {key.name}", via=VIA)
    try:
        outcome = await service.act(number, action, actor)
    except IncidentNotFound:
        return await _record(key, name, False, _NO_ALERT, None, reference.identifier, service.clock())
    status = _DONE[action] if outcome.changed else f"Alert is already {outcome.incident.status.lower()}"
    return await _record(key, name, True, status, number, _alias(outcome.incident, reference), service.clock())


async def update_alert(
    service: IncidentService, reference: AlertReference, key: ApiKey, title: str | None = None, body: str | None = None,
) -> RequestOutcome:
    """Replace the message (title) or description (body) of the alert ``reference`` names."""
    name = "Update Message" if title is not None else "Update Description"
    number = await _number(service, reference)
    if number is None:
        return await _record(key, name, False, _NO_ALERT, None, reference.identifier, service.clock())
    try:
        incident = await service.update_text(number, Actor(f"API key {key.name}", VIA), title=title, body=body)
    except IncidentNotFound:
        return await _record(key, name, False, _NO_ALERT, None, reference.identifier, service.clock())
    status = "Updated message" if title is not None else "Updated description"
    return await _record(key, name, True, status, number, _alias(incident, reference), service.clock())


async def find_outcome(request_id: str, key: ApiKey) -> RequestOutcome | None:
    """The outcome of a request ``key`` made; None for an unknown, expired or another key's id."""
    if not _REQUEST_ID.fullmatch(request_id):
        return None
    row = await database.run(
        lambda: OpsgenieRequest.get_or_none(
            (OpsgenieRequest.request_id == request_id) & (OpsgenieRequest.api_key_id == key.id)
        )
    )
    return _outcome(row) if row is not None else None


async def _number(service: IncidentService, reference: AlertReference) -> int | None:
    if reference.dedup_key is not None:
        return await service.open_incident_number(reference.dedup_key)
    return reference.number


def _alias(incident, reference: AlertReference) -> str:
    return reference.identifier if reference.kind == "alias" else (incident.dedup_key or str(incident.id))


async def _record(
    key: ApiKey, action: str, success: bool, status: str, incident_id: int | None, alias: str, now: datetime,
) -> RequestOutcome:
    def record() -> OpsgenieRequest:
        with write_transaction():
            OpsgenieRequest.delete().where(OpsgenieRequest.processed_at < now - OUTCOME_RETENTION).execute()
            return OpsgenieRequest.create(
                request_id=str(uuid.uuid4()), api_key_id=key.id, action=action, success=success, status=status,
                incident=incident_id, alias=alias[:512], processed_at=now,
            )

    return _outcome(await database.run(record))


def _outcome(row: OpsgenieRequest) -> RequestOutcome:
    return RequestOutcome(
        request_id=row.request_id, action=row.action, success=row.success, status=row.status,
        incident_id=row.incident_id, alias=row.alias, processed_at=row.processed_at,
    )
