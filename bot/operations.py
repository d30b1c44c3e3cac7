"""What operators and the HTTP layer need on every request: JSON errors instead of tracebacks,
request timing, ``/healthz`` and ``/metrics``."""
from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.access_log import log_rejected, redacted_path
from bot.app_keys import CHANNEL_STATES_KEY, OUTAGE_KEY, SERVICE_KEY
from incidents import metrics
from storage.availability import OutageLog, OutageWatch, is_unavailable, kind

log = logging.getLogger("ackbot")

# Seconds a client is asked to wait (Retry-After) while the database is unavailable.
RETRY_AFTER_SECONDS = 1

_SURFACES = (
    ("/slack/", "slack"), ("/api/messages", "teams"), ("/a/", "links"), ("/twilio/", "twilio"),
    ("/push/", "push"), ("/api/v1/", "api"), ("/webhooks/", "api"), ("/v2/", "api"), ("/integrations/", "api"),
    ("/heartbeats/", "api"),
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)


def watch_outages(app: web.Application) -> None:
    """One warning when the database goes away and one when it is back, however many requests
    meet the outage in between."""
    app[OUTAGE_KEY] = watch = OutageWatch(lambda: app[SERVICE_KEY].probe_writable(), OutageLog(log, "server"))

    async def stop_watching(app: web.Application) -> None:
        await watch.close()

    app.on_cleanup.append(stop_watching)


@web.middleware
async def timing_middleware(request: web.Request, handler):
    """Times interactive requests by surface for ``ackbot_request_seconds``."""
    surface = next((name for prefix, name in _SURFACES if request.path.startswith(prefix)), None)
    if surface is None:
        return await handler(request)
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        metrics.REQUEST_SECONDS.labels(surface).observe(time.perf_counter() - started)


def error_middleware(max_body_bytes: int):
    """Errors become JSON with a status and a message; nothing unexpected leaks a traceback."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            log_rejected(request, "body too large")
            return web.json_response({"error": f"request body too large (limit {max_body_bytes} bytes)"}, status=413)
        except web.HTTPException as error:
            if error.status < 400 or error.content_type == "application/json":
                raise
            return web.json_response({"error": error.reason}, status=error.status, headers=_safe_headers(error))
        except Exception as error:
            if is_unavailable(error):
                return _database_unavailable(request, error)
            log.exception("unhandled error on %s %s", request.method, redacted_path(request.path))
            return web.json_response({"error": "internal error"}, status=500)

    return middleware


def _database_unavailable(request: web.Request, error: BaseException) -> web.Response:
    """503 with Retry-After: nothing was done, and the sender should try again (Alertmanager and
    most senders retry a 5xx). One short line per request; the outage itself is logged once."""
    request.app[OUTAGE_KEY].report(error)
    log.warning("503 %s %s: database unavailable (%s)", request.method, redacted_path(request.path), kind(error))
    return web.json_response(
        {"error": "the database is unavailable; try again shortly"}, status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _safe_headers(error: web.HTTPException) -> dict:
    return {name: value for name, value in error.headers.items() if name.lower() in ("allow", "retry-after")}


async def healthz(request: web.Request) -> web.Response:
    """Whether the database answers, and which channels are on (and how to switch on the rest)."""
    try:
        database_state = {"ok": True, "engine": await request.app[SERVICE_KEY].database_engine()}
    except Exception as error:
        if is_unavailable(error):
            request.app[OUTAGE_KEY].report(error)
        database_state = {"ok": False, "error": kind(error)}
    body = {
        "status": "ok" if database_state["ok"] else "degraded",
        "database": database_state,
        "channels": request.app[CHANNEL_STATES_KEY],
    }
    if database_state["ok"]:
        feeds = await request.app[SERVICE_KEY].feed_states()
        if feeds:
            body["schedule_feeds"] = feeds
    return web.json_response(body, status=200 if database_state["ok"] else 503)


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus metrics; queue depth, the oldest due row's age and the intake signals waiting
    are measured now."""
    depth, oldest = await request.app[SERVICE_KEY].queue_stats()
    metrics.QUEUE_DEPTH.set(depth)
    metrics.QUEUE_OLDEST_AGE.set(oldest)
    metrics.INTAKE_WAITING.set(await request.app[SERVICE_KEY].intake_waiting())
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
