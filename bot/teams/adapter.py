"""The CloudAdapter at ``POST /api/messages``, with the HTTP step that botbuilder-integration-
aiohttp 4.17.1 gets wrong written out here.

Its ``CloudAdapter.process`` answers 500 for a request without Content-Type or with a body that
is not JSON, runs the bot without checking that the activity has a serviceUrl (the SDK then
skips the ``serviceurl`` claim check), and serialises every invoke response a second time:
``ActivityHandler`` already turned the body into a dict, and ``serializer_helper`` on a dict
raises, so every ``adaptiveCard/action`` answer became a 500. Here bad input gets 400/415, a
request that fails authentication gets 401 before the bot sees anything, and only bodies that
are still msrest models are serialised.
"""
from __future__ import annotations

import logging

from aiohttp import web
from botbuilder.core import Bot, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from bot.teams.auth import SigningKeysUnavailable

log = logging.getLogger("ackbot.teams")


def _error(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="ackbot"'} if status == 401 else None
    return web.json_response({"error": message}, status=status, headers=headers)


class TeamsAdapter(CloudAdapter):
    async def process(self, request: web.Request, bot: Bot, ws_response=None) -> web.Response:
        """Authenticate, run ``bot`` on the activity, and answer with its invoke response (if any)."""
        activity = await _read_activity(request)
        if isinstance(activity, web.Response):
            return activity
        try:
            authenticated = await self.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", "")
            )
        except PermissionError as problem:
            log.info("rejected a Teams request: %s", problem)
            return _error(401, "missing or invalid Bot Framework token")
        except SigningKeysUnavailable:
            return _error(503, "cannot check Bot Framework tokens right now (signing keys unavailable)")
        invoke_response = await self.process_activity(authenticated, activity, bot.on_turn)
        if invoke_response is None:
            return web.Response(status=201)
        body = invoke_response.body
        if isinstance(body, Model):
            body = serializer_helper(body)
        return web.json_response(body, status=invoke_response.status)


async def _read_activity(request: web.Request) -> Activity | web.Response:
    """The request's activity, or the error response for a request that carries none."""
    if request.content_type != "application/json":
        return _error(415, "expected an application/json Bot Framework activity")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "the body is not a Bot Framework activity")
    try:
        activity = Activity().deserialize(body)
    except (DeserializationError, TypeError, ValueError, AttributeError):
        return _error(400, "the body is not a Bot Framework activity")
    if not activity.type:
        return _error(400, "the activity has no type")
    if not activity.service_url:
        return _error(400, "the activity has no serviceUrl")
    return activity
