"""The Opsgenie Alert API, for senders set up for Opsgenie: a key in ``Authorization: GenieKey …``
(an Ackbot API key; ``ackbot apikey create NAME --key <Opsgenie key>`` keeps the one a sender has).

Served where api.opsgenie.com serves it, ``/v2/alerts``, so Alertmanager (``api_url`` a base to
which it appends ``v2/alerts``) and Grafana (``apiUrl`` the full ``…/v2/alerts``, closing at
``{apiUrl}/{alias}/close``) both work against the same host; and under ``/v2/alerts/v2/alerts``
too, so one URL, ``https://ackbot…/v2/alerts``, pasted into both works.

Answers are Opsgenie's: every valid request 202 ``{"result": "Request will be processed",
"took": …, "requestId": …}``, even when it then finds no alert (as Opsgenie, which processes
requests asynchronously); ``GET …/requests/{requestId}`` tells what happened. 401 for a missing
or unknown key, 400 for a body that is not JSON, 422 naming the field for a bad one.
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import SERVICE_KEY
from bot.json_body import parse_json, rejection_reason
from incidents import opsgenie_requests
from incidents.intake import IntakeError
from incidents.intake.opsgenie import parse_create, parse_description, parse_message, parse_note, parse_reference
from incidents.opsgenie_requests import RequestOutcome
from storage.enums import Action
from storage.models import ApiKey

PREFIXES = ("/v2/alerts", "/v2/alerts/v2/alerts")
_STARTED = web.RequestKey("opsgenie_started", float)
_KEY = web.RequestKey("opsgenie_key", ApiKey)


def add_routes(app: web.Application) -> None:
    for prefix in PREFIXES:
        app.router.add_post(prefix, _guarded(create_alert))
        app.router.add_get(prefix + "/requests/{request_id}", _guarded(request_status))
        app.router.add_post(prefix + "/{identifier}/close", _guarded(close_alert))
        app.router.add_post(prefix + "/{identifier}/acknowledge", _guarded(acknowledge_alert))
        app.router.add_put(prefix + "/{identifier}/message", _guarded(update_message))
        app.router.add_put(prefix + "/{identifier}/description", _guarded(update_description))


def _guarded(handler):
    """The handler behind GenieKey authentication, with Opsgenie's answers to bad input."""

    async def guarded(request: web.Request) -> web.Response:
        request[_STARTED] = time.perf_counter()
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        keys = request.app[SERVICE_KEY].api_keys
        key = await keys.authenticate(presented.strip()) if scheme.lower() == "geniekey" else None
        if key is None:
            log_rejected(request, "Opsgenie request without a valid GenieKey")
            return _answer(request, {"message": "Could not authenticate"}, 401)
        request[_KEY] = key
        try:
            return await handler(request)
        except IntakeError as problem:
            log_rejected(request, f"Opsgenie request refused: {rejection_reason(problem)}")
            if problem.status == 400:
                return _answer(request, {"message": problem.message}, 400)
            return _answer(request, {
                "message": "Request body is not processable. Please check the errors.",
                "errors": {problem.field or "body": problem.message},
            }, 422)

    return guarded


async def _json(request: web.Request, optional: bool = False):
    raw = await request.read()
    if optional and not raw.strip():
        return None
    try:
        return parse_json(raw)
    except IntakeError as problem:
        if problem.status == 400:
            raise IntakeError(None, "Invalid JSON body", 400) from None
        raise


def _answer(request: web.Request, body: dict, status: int) -> web.Response:
    took = round(time.perf_counter() - request[_STARTED], 3)
    request_id = body.pop("requestId", None) or str(uuid.uuid4())
    return web.json_response({**body, "took": took, "requestId": request_id}, status=status)


def _accepted(request: web.Request, outcome: RequestOutcome) -> web.Response:
    return _answer(request, {"result": "Request will be processed", "requestId": outcome.request_id}, 202)


def _reference(request: web.Request):
    return parse_reference(request.match_info["identifier"], request.query.get("identifierType"))


async def create_alert(request: web.Request) -> web.Response:
    alert = parse_create(await _json(request))
    outcome = await opsgenie_requests.create_alert(request.app[SERVICE_KEY], alert, request[_KEY])
    return _accepted(request, outcome)


async def _act(request: web.Request, action: Action) -> web.Response:
    reference = _reference(request)
    note = parse_note(await _json(request, optional=True))
    outcome = await opsgenie_requests.act_on_alert(request.app[SERVICE_KEY], reference, action, note, request[_KEY])
    return _accepted(request, outcome)


async def close_alert(request: web.Request) -> web.Response:
    return await _act(request, Action.RESOLVE)


async def acknowledge_alert(request: web.Request) -> web.Response:
    return await _act(request, Action.ACKNOWLEDGE)


async def update_message(request: web.Request) -> web.Response:
    reference = _reference(request)
    title = parse_message(await _json(request))
    outcome = await opsgenie_requests.update_alert(request.app[SERVICE_KEY], reference, request[_KEY], title=title)
    return _accepted(request, outcome)


async def update_description(request: web.Request) -> web.Response:
    reference = _reference(request)
    body = parse_description(await _json(request))
    outcome = await opsgenie_requests.update_alert(request.app[SERVICE_KEY], reference, request[_KEY], body=body)
    return _accepted(request, outcome)


async def request_status(request: web.Request) -> web.Response:
    outcome = await opsgenie_requests.find_outcome(request.match_info["request_id"], request[_KEY])
    if outcome is None:
        return _answer(request, {"message": "Request not found. It might not be processed, yet."}, 404)
    data = {
        "success": outcome.success, "action": outcome.action,
        "processedAt": outcome.processed_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "integrationId": str(request[_KEY].id), "isSuccess": outcome.success, "status": outcome.status,
        "alertId": str(outcome.incident_id) if outcome.incident_id is not None else "", "alias": outcome.alias,
    }
    return _answer(request, {"data": data}, 200)
