"""The intake API (``/api/v1``) and the Alertmanager webhook: parse, make one call into
``incidents``, answer JSON. Every route needs an API key (``Authorization: Bearer …``).

Errors are JSON ``{"error": message, "field": name}``: 400 for a body that is not a JSON object,
422 for a bad field, 401 for a missing or wrong key, 404 for an unknown incident.
"""
from __future__ import annotations

import base64

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import SERVICE_KEY
from bot.commands import is_name, parse_number
from bot.json_body import read_json, rejection_reason
from bot.signals import act_on, answer
from incidents.intake import IntakeError, parse_alertmanager, parse_incident_request
from incidents.intake.grafana import Signal
from incidents.report import STATUS_FILTERS, IncidentReport
from incidents.service import ActionOutcome, Actor, IncidentNotFound, IncidentService, Kept
from storage.enums import Action
from storage.models import ApiKey, Incident

API_KEY = web.RequestKey("api_key", ApiKey)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/incidents", create_incident)
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get("/api/v1/incidents/{number}", get_incident)
    app.router.add_post("/api/v1/incidents/{number}/acknowledge", acknowledge_incident)
    app.router.add_post("/api/v1/incidents/{number}/resolve", resolve_incident)
    app.router.add_post("/webhooks/alertmanager", alertmanager_webhook)


def error(status: int, message: str, field: str | None = None) -> web.Response:
    body = {"error": message}
    if field:
        body["field"] = field
    headers = {"WWW-Authenticate": 'Bearer realm="ackbot"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


def refused(request: web.Request, problem: IntakeError) -> web.Response:
    """The answer to a refused body or query, and its one log line."""
    log_rejected(request, rejection_reason(problem))
    return error(problem.status, problem.message, problem.field)


async def _api_key(request: web.Request) -> ApiKey | None:
    return await request.app[SERVICE_KEY].api_keys.authenticate(presented_key(request.headers.get("Authorization", "")))


def presented_key(authorization: str) -> str | None:
    """The API key in an Authorization header: ``Bearer <key>``, or HTTP basic auth whose
    password is the key (Grafana's webhook user and password; the user name is not checked)."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


@web.middleware
async def api_key_middleware(request: web.Request, handler):
    """Routes under /api/v1 and /webhooks answer 401 without a valid API key."""
    if request.path.startswith(("/api/v1/", "/webhooks/")) or request.path == "/api/v1":
        key = await _api_key(request)
        if key is None:
            log_rejected(request, "missing or invalid API key")
            return error(401, "missing or invalid API key (Authorization: Bearer <key>, or basic auth with the key as password)")
        request[API_KEY] = key
    return await handler(request)


def _service(request: web.Request) -> IncidentService:
    return request.app[SERVICE_KEY]


def at(moment) -> str | None:
    return moment.isoformat() if moment else None


def incident_json(incident: Incident, team_name: str | None = None) -> dict:
    return {
        "number": incident.id, "title": incident.title, "body": incident.body, "priority": incident.priority,
        "service": incident.service, "team": team_name, "status": incident.status,
        "dedup_key": incident.dedup_key, "alert_count": incident.alert_count,
        "dashboard_url": incident.dashboard_url, "escalation_level": incident.escalation_level,
        "triggered_at": at(incident.triggered_at),
        "acknowledged_at": at(incident.acknowledged_at), "acknowledged_by": incident.acknowledged_by_name,
        "acknowledged_via": incident.acknowledged_via,
        "resolved_at": at(incident.resolved_at), "resolved_by": incident.resolved_by_name,
        "resolved_via": incident.resolved_via,
    }


def incidents_json(incidents: list[Incident]) -> dict:
    """A list of incidents (their teams joined), as ``GET /api/v1/incidents`` answers."""
    return {"incidents": [incident_json(incident, incident.team.name if incident.team is not None else None) for incident in incidents]}


def report_json(report: IncidentReport) -> dict:
    body = incident_json(report.incident, report.team_name)
    body["notifications"] = [
        {
            "person": line.person, "channel": line.channel, "kind": line.kind, "status": line.status,
            "attempts": line.attempts, "provider_id": line.provider_id, "error": line.error,
            "escalation_level": line.escalation_level, "tier": line.tier, "queued_at": at(line.queued_at),
            "sent_at": at(line.sent_at), "delivered_at": at(line.delivered_at),
            "last_attempt_at": at(line.last_attempt_at),
        }
        for line in report.notifications
    ]
    body["team_posts"] = [
        {
            "channel": post.channel, "destination": post.destination, "kind": post.kind, "status": post.status,
            "attempts": post.attempts, "provider_id": post.provider_id, "error": post.error,
            "queued_at": at(post.queued_at), "sent_at": at(post.sent_at), "delivered_at": at(post.delivered_at),
            "last_attempt_at": at(post.last_attempt_at),
        }
        for post in report.team_posts
    ]
    body["timeline"] = [
        {"kind": event.kind, "at": at(event.at), "person": event.person, "channel": event.channel, "message": event.message}
        for event in report.events
    ]
    return body


async def create_incident(request: web.Request) -> web.Response:
    try:
        trigger = parse_incident_request(await read_json(request))
        outcome = await _service(request).take_trigger(trigger, request[API_KEY])
    except IntakeError as problem:
        return refused(request, problem)
    if isinstance(outcome, Kept):
        return web.json_response({"queued": True, "title": trigger.title, "dedup_key": trigger.dedup_key}, status=202)
    return web.json_response(
        {**incident_json(outcome.incident, outcome.team_name), "deduplicated": not outcome.created, "routing": outcome.reason},
        status=201 if outcome.created else 200,
    )


async def list_incidents(request: web.Request) -> web.Response:
    status = request.query.get("status", "open")
    if status not in STATUS_FILTERS:
        return error(422, f"expected one of {', '.join(STATUS_FILTERS)}", "status")
    limit = _limit(request.query.get("limit", "50"))
    if limit is None:
        return error(422, "expected a whole number from 1 to 500", "limit")
    try:
        team = _team_filter(request.query.get("team") or None)
    except IntakeError as problem:
        return refused(request, problem)
    incidents = await _service(request).list_incidents(STATUS_FILTERS[status], team, limit)
    return web.json_response(incidents_json(incidents))


def _team_filter(text: str | None) -> str | None:
    """A team name to list by, read as the people file writes names (case aside)."""
    if text is None:
        return None
    if not is_name(text):
        raise IntakeError("team", "must be a team name: up to 100 letters, digits, '-' or '_'")
    return text.lower()


def _limit(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 3 or not 1 <= int(text) <= 500:
        return None
    return int(text)


def _number(request: web.Request) -> int:
    text = request.match_info["number"]
    number = parse_number(text)
    if number is None:
        raise IncidentNotFound(text.lstrip("#"))
    return number


async def get_incident(request: web.Request) -> web.Response:
    try:
        report = await _service(request).status(_number(request))
    except IncidentNotFound as problem:
        return error(404, str(problem))
    return web.json_response(report_json(report))


def _api_actor(request: web.Request) -> Actor:
    return Actor(name=f"API key {request[API_KEY].name}", via="API")


def outcome_json(outcome: ActionOutcome) -> dict:
    return {
        "changed": outcome.changed, "action": outcome.action, "by": outcome.by, "via": outcome.via,
        "at": at(outcome.at), "incident": incident_json(outcome.incident),
    }


async def _act(request: web.Request, action: Action) -> web.Response:
    service = _service(request)
    try:
        outcome = await service.act(_number(request), action, _api_actor(request))
    except IncidentNotFound as problem:
        return error(404, str(problem))
    return web.json_response(outcome_json(outcome))


async def acknowledge_incident(request: web.Request) -> web.Response:
    return await _act(request, Action.ACKNOWLEDGE)


async def resolve_incident(request: web.Request) -> web.Response:
    return await _act(request, Action.RESOLVE)


async def alertmanager_webhook(request: web.Request) -> web.Response:
    """Firing groups trigger (deduplicated by group key); a resolved group resolves its incident."""
    try:
        group = parse_alertmanager(await read_json(request))
        signal = Signal(firing=group.firing, resolved=not group.firing, trigger=group.trigger)
        body = await act_on(request, signal, request[API_KEY], Actor("Alertmanager", "ALERTMANAGER"))
    except IntakeError as problem:
        return refused(request, problem)
    return answer(body)
