"""The CloudAdapter at ``POST /api/messages``, with the HTTP step that botbuilder-integration-
aiohttp 4.17.1 gets wrong written out here.

Its ``CloudAdapter.process`` answers 500 for a request without Content-Type or with a body that
is not JSON, runs the bot without checking that the activity has a serviceUrl (the SDK then
skips the ``serviceurl`` claim check), and serialises every invoke response a second time:
``ActivityHandler`` already turned the body into a dict, and ``serializer_helper`` on a dict
raises, so every ``adaptiveCard/action`` answer became a 500. Here bad input gets 400/415 (JSON
nested too deep to read included), a request that fails authentication gets 401 before its body
is deserialised or the bot sees anything, every refusal leaves its one log line, and only bodies
that are still msrest models are serialised.
"""
from __future__ import annotations

from aiohttp import web
from botbuilder.core import Bot, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from bot.access_log import log_rejected
from bot.json_body import parse_json
from bot.teams.auth import SigningKeysUnavailable
from incidents.intake import IntakeError


class TeamsAdapter(CloudAdapter):
    async def process(self, request: web.Request, bot: Bot, ws_response=None) -> web.Response:
        """Authenticate, run ``bot`` on the activity, and answer with its invoke response (if any).

        The token is checked before the body is deserialised into an Activity: only the two
        fields the check needs (channelId, serviceUrl) are read from an unauthenticated body."""
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            authenticated = await self.bot_framework_authentication.authenticate_request(
                Activity(channel_id=body.get("channelId"), service_url=body["serviceUrl"]),
                request.headers.get("Authorization", ""),
            )
        except PermissionError:
            return _refused(request, 401, "missing or invalid Bot Framework token")
        except SigningKeysUnavailable as unavailable:
            return _refused(
                request, 503, "cannot check Bot Framework tokens right now (signing keys unavailable)",
                {"Retry-After": str(unavailable.retry_after)},
            )
        activity = _activity(body)
        if isinstance(activity, str):
            return _refused(request, 400, activity)
        invoke_response = await self.process_activity(authenticated, activity, bot.on_turn)
        if invoke_response is None:
            return web.Response(status=201)
        answer = invoke_response.body
        if isinstance(answer, Model):
            answer = serializer_helper(answer)
        return web.json_response(answer, status=invoke_response.status)


def _refused(request: web.Request, status: int, message: str, headers: dict | None = None) -> web.Response:
    log_rejected(request, message)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="ackbot"'}
    return web.json_response({"error": message}, status=status, headers=headers)


async def _read_body(request: web.Request) -> dict | web.Response:
    """The request's JSON object with a serviceUrl, or the error response for one without."""
    if request.content_type != "application/json":
        return _refused(request, 415, "expected an application/json Bot Framework activity")
    try:
        body = parse_json(await request.read())
    except IntakeError:  # not UTF-8 JSON, nested too deep, or holding what no database stores
        return _refused(request, 400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _refused(request, 400, "the body is not a Bot Framework activity")
    if not body.get("serviceUrl") or not isinstance(body["serviceUrl"], str):
        return _refused(request, 400, "the activity has no serviceUrl")
    if not isinstance(body.get("channelId"), str | None):
        return _refused(request, 400, "the activity's channelId is not text")
    return body


def _activity(body: dict) -> Activity | str:
    """The authenticated body as an Activity, or what is wrong with it."""
    try:
        activity = Activity().deserialize(body)
    except (DeserializationError, TypeError, ValueError, AttributeError, RecursionError):
        return "the body is not a Bot Framework activity"
    if not activity.type:
        return "the activity has no type"
    # Every reply goes to the activity's conversation, and the sender is who acts.
    if not (activity.conversation and activity.conversation.id):
        return "the activity has no conversation"
    if not (activity.from_property and activity.from_property.id):
        return "the activity has no sender"
    return activity
