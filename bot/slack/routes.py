"""The Slack routes inside Ackbot's aiohttp application, served by the Bolt app:

- ``POST /slack/events``: events, interactivity and the slash command (one Request URL), each
  verified against the signing secret (401 when unsigned, tampered or older than 5 minutes);
- ``GET /slack/install``: starts the workspace install (redirects to Slack);
- ``GET /slack/link``: starts the personal link sign-in (redirects to Slack);
- ``GET /slack/oauth_redirect``: where Slack sends both back.

Without Slack settings the routes answer 404 and say which settings switch Slack on.
"""
from __future__ import annotations

import json
import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.access_log import log_rejected
from bot.app_keys import HTTP_KEY, SERVICE_KEY, SLACK_APP_KEY
from bot.slack.bolt_app import SlackApp, build_slack_app
from bot.slack.config import SlackConfig
from bot.slack.identity import SlackIdentity
from bot.slack.inbound import payload_problem, shape_problem, signature_problem
from bot.slack.surface import SlackSurface
from incidents.push_links import SubscribeLinks
from incidents.slack_identity import SlackIdentities
from incidents.web_sessions import WebSessions

SHUTDOWN_GRACE = 10.0


def add_routes(app: web.Application) -> None:
    app.router.add_post("/slack/events", events)
    app.router.add_get("/slack/install", install)
    app.router.add_get("/slack/link", link)
    app.router.add_get("/slack/oauth_redirect", oauth_redirect)


def slack_context(config: SlackConfig | None, web_sessions: WebSessions, subscribe_links: SubscribeLinks | None):
    """A cleanup context that builds the Bolt app when Slack is on (``config`` is None while it is
    off), after the engine, whose service it uses, and lets click handlers still running finish on
    shutdown. ``subscribe_links`` is None while push is off."""

    async def context(app: web.Application):
        if config is None:
            yield
            return
        service = app[SERVICE_KEY]
        surface = SlackSurface(
            service, SlackIdentity(SlackIdentities(service.clock)), config.link_url, web_sessions, subscribe_links,
            public_url=config.public_url,
        )
        app[SLACK_APP_KEY] = build_slack_app(config, app[HTTP_KEY], surface)
        yield
        await surface.in_flight.settle(SHUTDOWN_GRACE)

    return context


def _slack(request: web.Request) -> SlackApp:
    slack = request.app.get(SLACK_APP_KEY)
    if slack is None:
        raise web.HTTPNotFound(
            text='{"error": "Slack is off: set ACKBOT_SLACK_CLIENT_ID, ACKBOT_SLACK_CLIENT_SECRET and'
                 ' ACKBOT_SLACK_SIGNING_SECRET"}',
            content_type="application/json",
        )
    return slack


def _malformed(problem: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": f"malformed Slack request: {problem}"}), content_type="application/json")


def _query_request(request: web.Request) -> AsyncBoltRequest:
    """The Bolt request of an OAuth GET: its query and headers (any body is ignored). A query
    with a control character is refused (400): Bolt copies values such as ``team`` into the
    redirect's Location header, which aiohttp would refuse to write, dropping the connection."""
    if any(ord(character) < 32 or ord(character) == 127 for value in request.query.values() for character in value):
        log_rejected(request, "OAuth query with a control character")
        raise web.HTTPBadRequest(text="The query must not contain control characters.")
    # Bolt reads headers through .items(), which aiohttp's multidict has; its annotation says dict.
    return AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]


def _signed_bolt_request(request: web.Request, raw: bytes) -> AsyncBoltRequest:
    """The Bolt request for a body whose signature is verified, or HTTPBadRequest saying what is
    wrong with it. The body is parsed once, by Bolt; only when Bolt cannot read it is it read
    again to say why."""
    content_type = request.headers.get("Content-Type", "").split(";")[0] or None
    problem: str | None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problem = "the body is not UTF-8"
    else:
        try:
            # Bolt reads headers through .items(), which aiohttp's multidict has; its annotation says dict.
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, RecursionError):  # odd shapes, not JSON
            problem = payload_problem(text, content_type) or "unexpected field types"
        else:
            body = bolt_request.body
            problem = shape_problem(body) if isinstance(body, dict) else "the payload is not a JSON object"
            if problem is None:
                return bolt_request
    log_rejected(request, f"malformed Slack request: {problem}", len(raw))
    raise _malformed(problem)


async def events(request: web.Request) -> web.Response:
    """Checks the signature before anything in the body is read; Bolt's own check is off."""
    slack = _slack(request)
    raw = await request.read()
    problem = signature_problem(
        slack.signing_secret, raw, request.headers.get("X-Slack-Request-Timestamp"),
        request.headers.get("X-Slack-Signature"), time.time(),
    )
    if problem is not None:
        log_rejected(request, problem, len(raw))
        return web.json_response({"error": "invalid request"}, status=401)
    response = await slack.bolt.async_dispatch(_signed_bolt_request(request, raw))
    if response.status == 404:
        log_rejected(request, "no handler for this Slack request", len(raw))
    return await to_aiohttp_response(response)


async def install(request: web.Request) -> web.Response:
    slack = _slack(request)
    return await to_aiohttp_response(await slack.install_flow.handle_installation(_query_request(request)))


async def link(request: web.Request) -> web.Response:
    slack = _slack(request)
    return await to_aiohttp_response(await slack.link_flow.handle_installation(_query_request(request)))


async def oauth_redirect(request: web.Request) -> web.Response:
    slack = _slack(request)
    flow = slack.flow_for_state(request.query.get("state", ""))
    return await to_aiohttp_response(await flow.handle_callback(_query_request(request)))
