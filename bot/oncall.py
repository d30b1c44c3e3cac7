"""Grafana OnCall's integration URLs, so a sender moved from OnCall changes only the host:
``POST /integrations/v1/{alertmanager|grafana_alerting|grafana|webhook|formatted_webhook}/{key}/``
(with or without the trailing slash). The key in the path is the credential: an Ackbot API key,
kept from OnCall with ``ackbot apikey create NAME --key <OnCall integration key>``.

Answers are OnCall's: 200 with the JSON string "Ok."; 403 for an unknown key. Bodies are JSON, or
form fields (``curl -d title=…``) as OnCall also reads them; anything else gets 400, a file
upload 400, and a formatted webhook with a field that is not text 422, naming it."""
from __future__ import annotations

from aiohttp import web

from bot.access_log import log_rejected
from bot.api import SERVICE_KEY, error
from bot.json_body import read_json
from bot.signals import act_on
from incidents.intake import IntakeError
from incidents.intake.oncall import INTEGRATIONS, parse_oncall
from incidents.service import Actor

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_PATH = "/integrations/v1/{integration:" + "|".join(INTEGRATIONS) + "}/{key}"


def add_routes(app: web.Application) -> None:
    app.router.add_post(_PATH, integration)
    app.router.add_post(_PATH + "/", integration)


async def integration(request: web.Request) -> web.Response:
    kind = request.match_info["integration"]
    key = await request.app[SERVICE_KEY].api_keys.authenticate(request.match_info["key"])
    if key is None:
        log_rejected(request, "OnCall integration URL with an unknown key")
        return error(403, "Integration key was not found. Permission denied.")
    try:
        signals = parse_oncall(kind, await _body(request), str(key.id))
    except IntakeError as problem:
        log_rejected(request, f"not an OnCall {kind} body ({problem.status})")
        return error(problem.status, problem.message, problem.field)
    source = Actor(f"OnCall {kind} integration ({key.name})", "ONCALL")
    for signal in signals:
        await act_on(request, signal, key, source)
    return web.json_response("Ok.")


async def _body(request: web.Request):
    if request.content_type not in _FORM_TYPES:
        return await read_json(request)
    form = await request.post()
    if any(not isinstance(value, str) for value in form.values()):
        raise IntakeError(None, "File uploads are not allowed", 400)
    return dict(form.items())
