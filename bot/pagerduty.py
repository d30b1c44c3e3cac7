"""The PagerDuty Events API v2, ``POST /v2/enqueue``: a sender set up for PagerDuty
(Alertmanager's ``pagerduty_configs``, Grafana's PagerDuty contact point, Kibana, pdpyras,
scripts) reaches Ackbot by changing its URL. The routing key is an Ackbot API key; ``ackbot
apikey create NAME --key <routing key>`` keeps the one the sender already has.

Answers are PagerDuty's, so senders' retry logic stays right: 202 ``{"status": "success",
"message": "Event processed", "dedup_key": …}`` for every valid event (an acknowledge or resolve
for a key with no open incident included: PagerDuty drops those too), 400 ``{"status": "invalid
event", …, "errors": [...]}`` for an invalid one, which senders do not retry. Never 429.
"""
from __future__ import annotations

import uuid

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import SERVICE_KEY
from bot.json_body import parse_json
from incidents.intake import IntakeError
from incidents.intake.pagerduty import EVENT_MAX_BYTES, parse_event
from incidents.service import ActByKey, Actor
from storage.enums import Action

VIA = "PAGERDUTY"


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v2/enqueue", enqueue)


async def enqueue(request: web.Request) -> web.Response:
    raw = await request.read()
    if len(raw) > EVENT_MAX_BYTES:
        return _invalid(request, len(raw), f"Event object is too large (at most {EVENT_MAX_BYTES // 1024} KB)")
    try:
        data = parse_json(raw)
    except IntakeError as problem:
        if problem.status == 400:
            return _unrecognized(request, len(raw), "JSON parse error")
        return _invalid(request, len(raw), f"'{problem.field}' {problem.message}")
    try:
        event = parse_event(data, request.headers.get("X-Routing-Key"), lambda: uuid.uuid4().hex)
    except IntakeError as problem:
        if problem.field is None:
            return _unrecognized(request, len(raw), problem.message)
        return _invalid(request, len(raw), f"'{problem.field}' {problem.message}")
    service = request.app[SERVICE_KEY]
    key = await service.api_keys.authenticate(event.routing_key)
    if key is None:
        return _invalid(request, len(raw), "Invalid routing key", logged="invalid PagerDuty event: Invalid routing key")
    actor = Actor(f"API key {key.name}", VIA)
    if event.action == "trigger":
        assert event.trigger is not None  # set for triggers
        await service.take_trigger(event.trigger, key)
    else:
        action = Action.ACKNOWLEDGE if event.action == "acknowledge" else Action.RESOLVE
        await service.take_act(ActByKey(action, event.incident_key, actor), key)
    return web.json_response(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, status=202
    )


def _invalid(request: web.Request, size: int, error: str, logged: str = "invalid PagerDuty event") -> web.Response:
    """PagerDuty's answer to an invalid event; ``error`` may quote the sender's field names, so
    the log line is ``logged``, in Ackbot's words."""
    log_rejected(request, logged, size)
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": [error]}, status=400
    )


def _unrecognized(request: web.Request, size: int, error: str) -> web.Response:
    log_rejected(request, "unrecognized PagerDuty event", size)
    return web.json_response(
        {"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": [error]},
        status=400,
    )
