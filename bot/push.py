"""Web Push for people: the subscribe page reached through a one-time personal link, its
script and service worker, the registration of a browser's subscription, and the endpoint the
service worker POSTs a notification's Acknowledge/Resolve action to.

Routes:
- ``GET /push/p/{token}``: the subscribe page. Opening it uses nothing up (link scanners open
  links too); each visit gets its own registration credential.
- ``POST /push/subscriptions``: ``{endpoint, keys: {p256dh, auth}}`` with ``Authorization: Bearer
  <credential>``; keeps the subscription for the person and uses the link up. 201, or a JSON error.
- ``POST /push/act/{token}``: consumes an action token exactly like ``POST /a/{token}``, answers
  JSON ``{ok, changed, message}`` (404 unknown or expired, 409 used or incident resolved).
- ``GET /push/sw.js``, ``/push/push.js``, ``/push/subscribe.js``, ``/push/manifest.json``: static.
"""
from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from string import Template

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import PUSH_PUBLIC_KEY, SERVICE_KEY
from bot.json_body import read_json, rejection_reason
from bot.links import HEADERS as LINK_HEADERS
from bot.links import NEUTRAL, page, summary
from bot.render import action_answer
from incidents.intake import IntakeError
from incidents.push_subscriptions import SubscriptionError, parse_subscription

PAGE_HEADERS = {
    **LINK_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self';"
        " style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
JSON_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_ASSETS = {
    "sw.js": "text/javascript", "push.js": "text/javascript", "subscribe.js": "text/javascript",
    "manifest.json": "application/manifest+json",
}
NOT_SET_UP = "Push notifications are not set up on this Ackbot (the operator sets ACKBOT_VAPID_PRIVATE_KEY)."


def add_routes(app: web.Application, public_key: str | None) -> None:
    """The push routes; ``public_key`` is the VAPID ``applicationServerKey``, None while push is off."""
    if public_key:
        app[PUSH_PUBLIC_KEY] = public_key
    app.router.add_get("/push/p/{token}", subscribe_page)
    app.router.add_post("/push/subscriptions", register)
    app.router.add_post("/push/act/{token}", act)
    for name in _ASSETS:
        app.router.add_get(f"/push/{name}", asset)


@cache
def _static(name: str) -> str:
    return resources.files("bot").joinpath("static", name).read_text(encoding="utf-8")


async def asset(request: web.Request) -> web.Response:
    name = request.path.rsplit("/", 1)[1]
    return web.Response(text=_static(name), content_type=_ASSETS[name], headers=ASSET_HEADERS)


async def subscribe_page(request: web.Request) -> web.Response:
    public_key = request.app.get(PUSH_PUBLIC_KEY)
    if public_key is None:
        return page("Push notifications are off", NOT_SET_UP, status=503)
    links = request.app[SERVICE_KEY].push_links
    visit = await links.open(request.match_info["token"], mint_credential=request.method == "GET")
    if visit.state == "used":
        return page("This link was already used", "Each push link subscribes one browser. Ask for a new one.")
    if visit.state != "valid":
        log_rejected(request, "unknown or expired push link")
        return page(*NEUTRAL, status=404)
    assert visit.person is not None  # set for a valid link
    html = Template(_static("push.html")).substitute(
        person=escape(visit.person), public_key=escape(public_key, quote=True),
        credential=escape(visit.credential or "", quote=True),
    )
    return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)


def _json(status: int, **body) -> web.Response:
    return web.json_response(body, status=status, headers=JSON_HEADERS)


async def register(request: web.Request) -> web.Response:
    if request.app.get(PUSH_PUBLIC_KEY) is None:
        return _json(503, error=NOT_SET_UP)
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        log_rejected(request, "missing registration credential")
        return _json(401, error="missing registration credential (open your push link again)")
    try:
        info = parse_subscription(await read_json(request))
    except IntakeError as problem:
        log_rejected(request, rejection_reason(problem))
        return _json(problem.status, error=problem.message, **({"field": problem.field} if problem.field else {}))
    except SubscriptionError as problem:
        return _json(422, error=str(problem), field=problem.field)
    links = request.app[SERVICE_KEY].push_links
    person = await links.register(credential.strip(), info, request.headers.get("User-Agent"))
    if person is None:
        log_rejected(request, "used or expired registration credential")
        return _json(403, error="this push link was already used or has expired; ask for a new one")
    return _json(201, ok=True, message=f"Done: this browser will get Ackbot pages for {person}.")


async def act(request: web.Request) -> web.Response:
    view, outcome = await request.app[SERVICE_KEY].act_with_token(request.match_info["token"])
    if outcome is not None:
        return _json(200, ok=True, changed=outcome.changed, message=action_answer(outcome))
    if view.state == "used":
        return _json(409, ok=False, error="This action was already used.", message=f"Already used. {summary(view)}")
    if view.state == "resolved":
        return _json(409, ok=False, error="This incident is resolved.", message=summary(view))
    log_rejected(request, "unknown or expired action link")
    return _json(404, ok=False, error=NEUTRAL[0], message=NEUTRAL[1])
