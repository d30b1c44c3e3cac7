"""Ackbot's Bot Framework adapter at ``POST /api/messages``: a ``BotAdapter`` of its own, on
botbuilder-core's public extension points only.

``process`` reads the request (400/415 for what is not a JSON activity, JSON nested too deep
included), checks the channel's token (``bot.teams.auth``: 401 before the body is read as an
activity, 503 with Retry-After while the signing keys cannot be fetched), parses the activity
as data, runs the bot in a ``TurnContext``, and answers with the bot's invoke response (or 201).
Every refusal leaves its one log line. What the bot sends goes through ``BotConnector``.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from botbuilder.core import BotAdapter, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, ResourceResponse

from bot.access_log import log_rejected
from bot.json_body import parse_json
from bot.teams.activity_json import activity_from_json
from bot.teams.auth import ChannelTokens, SigningKeysUnavailable, TokenRejected
from bot.teams.connector import BotConnector
from incidents.intake import IntakeError

# Where a turn keeps the invoke response the bot "sent", for the HTTP answer.
INVOKE_RESPONSE_KEY = "ackbot.teams.invoke_response"
INVALID_TOKEN = "missing or invalid Bot Framework token"


class TeamsAdapter(BotAdapter):
    def __init__(self, tokens: ChannelTokens, connector: BotConnector):
        super().__init__()
        self.tokens = tokens
        self.connector = connector

    async def process(self, request: web.Request, on_turn: Callable[[TurnContext], Awaitable]) -> web.Response:
        """Authenticate, run ``on_turn`` on the activity, and answer with its invoke response (if any).

        The token is checked before the body is parsed into an Activity: only the two fields
        the check needs (channelId, serviceUrl) are read from an unauthenticated body."""
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            await self.tokens.check(request.headers.get("Authorization", ""), body.get("channelId"), body["serviceUrl"])
        except TokenRejected:
            return _refused(request, 401, INVALID_TOKEN)
        except SigningKeysUnavailable as unavailable:
            return _refused(
                request, 503, "cannot check Bot Framework tokens right now (signing keys unavailable)",
                {"Retry-After": str(unavailable.retry_after)},
            )
        activity = _activity(body)
        if isinstance(activity, str):
            return _refused(request, 400, activity)
        context = TurnContext(self, activity)
        await self.run_pipeline(context, on_turn)
        if activity.type != ActivityTypes.invoke:
            return web.Response(status=201)
        invoke = context.turn_state.get(INVOKE_RESPONSE_KEY)
        if invoke is None:  # the bot did not answer (another tenant's invoke, say)
            return web.json_response(None, status=501)
        return web.json_response(_json_ready(invoke.body), status=invoke.status)

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        """Post each activity to its conversation (a reply when it has ``replyToId``); an invoke
        response is kept for the HTTP answer instead."""
        responses = []
        for activity in activities:
            if activity.type == ActivityTypes.invoke_response:
                keep_invoke_response(context, activity.value)
                responses.append(ResourceResponse())
                continue
            activity_id = await self.connector.send(
                activity.service_url, activity.conversation.id, activity.serialize(), activity.reply_to_id
            )
            responses.append(ResourceResponse(id=activity_id))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        await self.connector.update(activity.service_url, activity.conversation.id, activity.id, activity.serialize())
        return ResourceResponse(id=activity.id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        await self.connector.delete(reference.service_url, reference.conversation.id, reference.activity_id)


def keep_invoke_response(context: TurnContext, response: InvokeResponse | None) -> None:
    """Make ``response`` (None: none) the HTTP answer to the turn's invoke, as sending it as an
    invoke response activity does, but without the deep copy of the card that sending makes."""
    if response is not None:
        context.turn_state[INVOKE_RESPONSE_KEY] = response


def _json_ready(body):
    """An invoke response body as JSON: the bot's own answers are dicts already, the SDK's
    handlers answer with schema models."""
    return body.serialize() if hasattr(body, "serialize") else body


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
        activity = activity_from_json(body)
    except Exception:  # the schema's deserializer raises its own error, or whatever a bad field trips over
        return "the body is not a Bot Framework activity"
    if not activity.type:
        return "the activity has no type"
    # Every reply goes to the activity's conversation, and the sender is who acts.
    if not (activity.conversation and activity.conversation.id):
        return "the activity has no conversation"
    if not (activity.from_property and activity.from_property.id):
        return "the activity has no sender"
    return activity
