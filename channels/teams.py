"""Microsoft Teams: proactive Adaptive Card pages through the Bot Connector REST API, and card
replacement when the incident changes.

The adapter posts to ``{serviceUrl}/v3/conversations/{id}/activities`` of the conversation
reference the bot stored when the person installed the app (``Recipient.teams_reference``, a
serialised Bot Framework ``ConversationReference``), and replaces a posted card with
``PUT …/activities/{activityId}``. It calls the REST API with aiohttp rather than the SDK's
``ConnectorClient``, which sends through ``requests`` in a thread pool and reports failures
without the response headers (Retry-After) this channel needs.

``BotFrameworkToken`` is the bot's own access token (client credentials, or a managed
identity), fetched from the configured token endpoint and reused until shortly before it
expires; the Teams bot (``bot.teams``) replies with this channel's token, so a process has one.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from channels.base import BaseChannel, PermanentDeliveryError, TemporaryDeliveryError, classify_http_failure, truncate
from channels.teams_cards import attachment, payload_card, payload_summary
from channels.types import (
    Channel,
    ChannelDeliveryResult,
    ChannelTraits,
    NotificationKind,
    NotificationPayload,
    Reach,
    StatusNotice,
    TeamChat,
    Tier,
)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
MANAGED_IDENTITY_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
MULTI_TENANT, SINGLE_TENANT, MANAGED_IDENTITY = "MultiTenant", "SingleTenant", "UserAssignedMSI"
APP_TYPES = {name.lower(): name for name in (MULTI_TENANT, SINGLE_TENANT, MANAGED_IDENTITY)}
NO_PERSONAL_CHAT = "no Teams conversation with this person: they have not installed the Ackbot app"
NO_TEAM_CHANNEL = (
    "the Ackbot app is not in this Teams channel's team: add the app to the team, then put the channel ID it"
    " posts there in the people file"
)
# A token is renewed this long before it expires, so one never lapses mid-request.
RENEW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class BotCredentials:
    """The bot's identity: its app id, and how it proves it (a password for MultiTenant and
    SingleTenant apps, the host's managed identity for UserAssignedMSI)."""

    app_id: str
    password: str | None = field(default=None, repr=False)
    app_type: str = MULTI_TENANT
    tenant_id: str = ""
    token_url: str = DEFAULT_TOKEN_URL

    @classmethod
    def create(cls, app_id: str, password: str | None, app_type: str, tenant_id: str, token_url: str) -> BotCredentials:
        """Credentials with the app type's canonical name and the token URL it implies: a
        SingleTenant app asks its own tenant, a managed identity the instance metadata service,
        unless ``token_url`` was changed from the default."""
        kind = APP_TYPES.get(app_type.strip().lower(), app_type.strip())
        if token_url == DEFAULT_TOKEN_URL and kind == SINGLE_TENANT and tenant_id:
            token_url = DEFAULT_TOKEN_URL.replace("/botframework.com/", f"/{tenant_id}/")
        elif token_url == DEFAULT_TOKEN_URL and kind == MANAGED_IDENTITY:
            token_url = MANAGED_IDENTITY_TOKEN_URL
        return cls(app_id, password or None, kind, tenant_id, token_url)

    def problem(self) -> str | None:
        """What is missing for the bot to work, or None."""
        if not self.app_id:
            return "set ACKBOT_TEAMS_APP_ID"
        if self.app_type not in APP_TYPES.values():
            return f"ACKBOT_TEAMS_APP_TYPE must be one of {', '.join(APP_TYPES.values())}"
        if self.app_type != MANAGED_IDENTITY and not self.password:
            return "set ACKBOT_TEAMS_APP_PASSWORD"
        if self.app_type != MULTI_TENANT and not self.tenant_id:
            return f"set ACKBOT_TEAMS_TENANT_ID (needed by {self.app_type} apps)"
        return None


class TokenError(Exception):
    """The token endpoint did not hand out a token; ``temporary`` when asking again may help."""

    def __init__(self, message: str, temporary: bool, retry_after: float | None = None):
        super().__init__(message)
        self.temporary = temporary
        self.retry_after = retry_after


class BotFrameworkToken:
    """The bot's access token for the Bot Connector and the Bot Framework token service.

    One fetch at a time; the token is reused until ``RENEW_MARGIN_SECONDS`` before it expires,
    or until ``forget`` (after the connector rejected it).
    """

    def __init__(
        self, credentials: BotCredentials, session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.credentials = credentials
        self._session = session
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    async def get(self) -> str:
        """A valid token; raises TokenError."""
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token, lifetime = await self._fetch()
                self._renew_at = self._clock() + max(0.0, lifetime - RENEW_MARGIN_SECONDS)
            return self._token

    def forget(self) -> None:
        self._token = None

    async def _fetch(self) -> tuple[str, float]:
        credentials = self.credentials
        try:
            if credentials.app_type == MANAGED_IDENTITY:
                query = {"api-version": "2018-02-01", "resource": BOT_FRAMEWORK_SCOPE.removesuffix("/.default"),
                         "client_id": credentials.app_id}
                request = self._session.get(credentials.token_url, params=query, headers={"Metadata": "true"})
            else:
                form = {"grant_type": "client_credentials", "client_id": credentials.app_id,
                        "client_secret": credentials.password or "", "scope": BOT_FRAMEWORK_SCOPE}
                request = self._session.post(credentials.token_url, data=form)
            async with request as response:
                answer = await _json_or_text(response)
                if response.status != 200 or not isinstance(answer, dict) or "access_token" not in answer:
                    raise _token_failure(response, answer)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TokenError(f"token endpoint unreachable: {type(error).__name__}", temporary=True) from None
        return answer["access_token"], float(answer.get("expires_in") or 3600)


async def _json_or_text(response: aiohttp.ClientResponse):
    text = await response.text()
    try:
        return json.loads(text) if text else text
    except ValueError:
        return text


def _token_failure(response: aiohttp.ClientResponse, answer) -> TokenError:
    """A TokenError naming the endpoint's error code (never echoing the request)."""
    reason = ""
    if isinstance(answer, dict):
        reason = str(answer.get("error") or "")
    failure = classify_http_failure(response.status, response.headers, reason)
    return TokenError(f"token endpoint refused the bot's credentials ({failure.error})", failure.temporary, failure.retry_after)


@dataclass(frozen=True)
class _Conversation:
    """Where a message goes: the service URL and conversation id from a conversation reference."""

    service_url: str
    conversation_id: str
    bot: Mapping | None = None

    @classmethod
    def from_reference(cls, reference: Mapping) -> _Conversation:
        service_url = reference.get("serviceUrl") or reference.get("service_url")
        conversation = reference.get("conversation") or {}
        if not service_url or not conversation.get("id"):
            raise PermanentDeliveryError("the stored Teams conversation reference has no serviceUrl or conversation id")
        return cls(service_url, conversation["id"], reference.get("bot"))

    @classmethod
    def from_message_reference(cls, reference: Mapping) -> _Conversation:
        return cls(reference["service_url"], reference["conversation_id"])

    def activities_url(self, activity_id: str | None = None) -> str:
        url = f"{self.service_url.rstrip('/')}/v3/conversations/{quote(self.conversation_id, safe='')}/activities"
        return f"{url}/{quote(activity_id, safe='')}" if activity_id else url


class TeamsChannel(BaseChannel):
    """Pages as Adaptive Cards with Acknowledge/Resolve (Action.Execute); status notices replace
    the card posted earlier. Delivery is SENT when the Bot Connector accepts the message."""

    name = Channel.TEAMS
    traits = ChannelTraits(
        Reach.TEAMS_CHAT, Tier.PRIMARY, StatusNotice.EDITS_MESSAGE, team_chat=TeamChat.TEAMS_CHANNEL
    )

    def __init__(self, token: BotFrameworkToken, session: aiohttp.ClientSession):
        self.token = token
        self._session = session

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        activity: dict[str, Any] = {
            "type": "message",
            "summary": truncate(payload_summary(payload), 300),
            "attachments": [attachment(payload_card(payload))],
        }
        if payload.kind == NotificationKind.STATUS and payload.message_reference:
            conversation = _Conversation.from_message_reference(payload.message_reference)
            activity_id = payload.message_reference["activity_id"]
            await self._call("PUT", conversation.activities_url(activity_id), {**activity, "id": activity_id})
            return _sent(conversation, activity_id)
        if not payload.recipient.teams_reference:
            raise PermanentDeliveryError(NO_TEAM_CHANNEL if payload.user_id is None else NO_PERSONAL_CHAT)
        conversation = _Conversation.from_reference(payload.recipient.teams_reference)
        if conversation.bot:
            activity["from"] = dict(conversation.bot)
        activity["conversation"] = {"id": conversation.conversation_id}
        answer = await self._call("POST", conversation.activities_url(), activity)
        if not answer.get("id"):
            raise PermanentDeliveryError("the Bot Connector accepted the message but returned no activity id")
        return _sent(conversation, answer["id"])

    async def _call(self, method: str, url: str, body: dict) -> dict:
        """The connector's JSON answer; raises the delivery error a failed call amounts to."""
        try:
            token = await self.token.get()
        except TokenError as error:
            raise (TemporaryDeliveryError(str(error), error.retry_after) if error.temporary
                   else PermanentDeliveryError(str(error))) from None
        headers = {"Authorization": f"Bearer {token}"}
        async with self._session.request(method, url, json=body, headers=headers) as response:
            answer = await _json_or_text(response)
            if response.status == 401:
                self.token.forget()
                raise TemporaryDeliveryError("the Bot Connector rejected the bot's token (HTTP 401); a new one will be fetched")
            if response.status >= 400:
                failure = classify_http_failure(response.status, response.headers, _connector_error(answer))
                assert failure.error is not None  # a failure always says what failed
                if failure.temporary:
                    raise TemporaryDeliveryError(failure.error, failure.retry_after)
                raise PermanentDeliveryError(failure.error)
        return answer if isinstance(answer, dict) else {}


def _connector_error(answer) -> str:
    """"BotNotInConversationRoster: The bot is not part of the conversation roster." from the
    connector's error body."""
    error = answer.get("error") if isinstance(answer, dict) else answer
    if isinstance(error, dict):
        return ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)
    return error if isinstance(error, str) else ""


def _sent(conversation: _Conversation, activity_id: str) -> ChannelDeliveryResult:
    return ChannelDeliveryResult.sent(
        provider_id=f"{conversation.conversation_id}:{activity_id}",
        message_reference={
            "service_url": conversation.service_url,
            "conversation_id": conversation.conversation_id,
            "activity_id": activity_id,
        },
    )
