"""Heartbeat pings: ``GET``/``POST /heartbeats/{key}``, and Grafana OnCall's
``/integrations/v1/{type}/{key}/heartbeat/`` so a sender moved from OnCall keeps its URL's path.
The key in the path is the credential; the access log redacts it."""
from __future__ import annotations

from aiohttp import web

from bot.access_log import log_rejected
from bot.api import error
from bot.app_keys import SERVICE_KEY

ONCALL_HEARTBEAT_PATHS = ("/integrations/v1/{type}/{key}/heartbeat/", "/integrations/v1/{type}/{key}/heartbeat")


def add_routes(app: web.Application) -> None:
    for path in ("/heartbeats/{key}", "/heartbeats/{key}/"):
        app.router.add_get(path, ping)
        app.router.add_post(path, ping)
    for path in ONCALL_HEARTBEAT_PATHS:
        app.router.add_get(path, oncall_ping)
        app.router.add_post(path, oncall_ping)


async def _record_ping(request: web.Request):
    return await request.app[SERVICE_KEY].ping_heartbeat(request.match_info["key"])


async def ping(request: web.Request) -> web.Response:
    """``{"heartbeat": name, "resolved": incident number or null}``; 404 for an unknown key."""
    recorded = await _record_ping(request)
    if recorded is None:
        log_rejected(request, "heartbeat ping with an unknown key")
        return error(404, "no heartbeat has this key (`ackbot heartbeat list`)")
    return web.json_response({"heartbeat": recorded.name, "resolved": recorded.resolved})


async def oncall_ping(request: web.Request) -> web.Response:
    """As OnCall answers: GET ``":)"``, POST an empty 200; 403 for an unknown key."""
    recorded = await _record_ping(request)
    if recorded is None:
        log_rejected(request, "OnCall heartbeat ping with an unknown key")
        return error(403, "Integration key was not found. Permission denied.")
    if request.method == "GET":
        return web.json_response(":)")
    return web.Response(status=200)
