"""Grafana's webhook contact point: ``POST /webhooks/grafana`` (Grafana Alerting, and legacy
Grafana's webhook). The API key comes as ``Authorization: Bearer <key>`` (the contact point's
authorization credentials) or as the password of HTTP basic auth; the middleware checks it.

Grafana does not retry a notification that failed, so every well-formed body gets a 200; only a
body that is not Grafana's gets 400/422, naming the field."""
from __future__ import annotations

from aiohttp import web

from bot.access_log import log_rejected
from bot.api import API_KEY, error
from bot.json_body import read_json
from bot.signals import act_on, answer
from incidents.intake import IntakeError
from incidents.intake.grafana import parse_grafana
from incidents.service import Actor

GRAFANA = Actor("Grafana", "GRAFANA")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/grafana", grafana_webhook)


async def grafana_webhook(request: web.Request) -> web.Response:
    """A firing group triggers or updates its incident (alerts by fingerprint); a resolved
    group, or a legacy "ok", resolves it."""
    try:
        signal = parse_grafana(await read_json(request))
    except IntakeError as problem:
        log_rejected(request, f"not a Grafana webhook body ({problem.status})")
        return error(problem.status, problem.message, problem.field)
    return answer(await act_on(request, signal, request[API_KEY], GRAFANA))
