"""The Slack channel: incident cards as direct messages from the workspace's bot, or as posts in
a team's channel, edited in place when the incident changes.

An ALERT opens a DM with the person (``conversations.open``), or takes the team's channel id, and
posts the card; the post is confirmed at once, so it is DELIVERED, and ``channel:ts`` is both the
provider id and the message reference. A STATUS notice with a reference edits that card
(``chat.update``); a TEST posts a short DM. The bot token is the workspace installation's,
looked up per send through ``tokens`` (this module never touches the database) and refreshed
here when the app uses expiring tokens.

Errors: ``ratelimited`` (HTTP 429) and 5xx are temporary, honouring Retry-After; a revoked or
invalid token, an unknown or inaccessible channel, a deactivated account and every other Slack
error are permanent. Posts to one channel are paced to Slack's one message per second.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import BaseChannel, PermanentDeliveryError, TemporaryDeliveryError, parse_retry_after
from channels.slack_blocks import check_message, fallback_text, incident_card
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

# Slack errors worth another try; every other ok:false is permanent.
TEMPORARY_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
NO_WORKSPACE = (
    "no Slack workspace to post in: install Ackbot in the team's workspace, or, with several installed,"
    " set the team's slack_workspace in the people file"
)
# Refresh an expiring bot token this long before it expires.
ROTATION_MARGIN = timedelta(minutes=10)


class BotToken(Protocol):
    """A workspace's bot token as the token store keeps it (read-only: stores keep frozen records)."""

    @property
    def token(self) -> str: ...

    @property
    def refresh_token(self) -> str | None: ...

    @property
    def expires_at(self) -> datetime | None: ...


StoredToken = TypeVar("StoredToken", bound=BotToken)


class BotTokenStore(Protocol[StoredToken]):
    """Hands out its own kind of token record and takes the same kind back when it rotates."""

    async def for_team(self, team_id: str) -> StoredToken | None:
        """The bot token of the active installation for Slack workspace ``team_id``."""

    async def rotated(self, old: StoredToken, token: str, refresh_token: str | None, expires_at: datetime | None) -> None:
        """Keep the token that replaced ``old``."""


@dataclass(frozen=True, repr=False)
class SlackAppCredentials:
    """What the channel needs to refresh expiring bot tokens."""

    client_id: str
    client_secret: str


def quiet_logger(name: str) -> logging.Logger:
    """A logger for Bolt and the Slack SDK, which log request and response bodies (tokens
    included) at DEBUG: it never goes below INFO, whatever ACKBOT_LOG_LEVEL says."""
    logger = logging.getLogger(name)
    logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
    return logger


PACED_CHANNELS = 1000


class ChannelPacer:
    """At most one post per ``interval`` seconds to each Slack channel: callers wait their turn."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}
        self._forget_past = PACED_CHANNELS

    async def wait(self, channel: str) -> None:
        now = self._clock()
        slot = max(now, self._next_slot.get(channel, now))
        self._next_slot[channel] = slot + self.interval
        if len(self._next_slot) > self._forget_past:
            self._next_slot = {key: value for key, value in self._next_slot.items() if value > now}
            # Only when twice as many again wait: a storm over thousands of channels at once
            # would otherwise copy them all on every post.
            self._forget_past = max(PACED_CHANNELS, 2 * len(self._next_slot))
        if slot > now:
            await self._sleep(slot - now)


class SlackChannel(BaseChannel):
    name = Channel.SLACK
    traits = ChannelTraits(
        Reach.SLACK_ACCOUNT, Tier.PRIMARY, StatusNotice.EDITS_MESSAGE, team_chat=TeamChat.SLACK_CHANNEL
    )

    def __init__(
        self,
        api_url: str,
        session: aiohttp.ClientSession,
        tokens: BotTokenStore[Any],
        app: SlackAppCredentials,
        pacer: ChannelPacer | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.api_url = api_url
        self.session = session
        self.tokens = tokens
        self.app = app
        self.pacer = pacer or ChannelPacer()
        self._now = now
        self._refreshing: dict[str, asyncio.Lock] = {}
        self._sdk_log = quiet_logger("ackbot.channels.slack_sdk")

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        recipient = payload.recipient
        if recipient.slack_channel_id is None and not (recipient.slack_user_id and recipient.slack_team_id):
            raise PermanentDeliveryError("the person has no linked Slack account")
        if not recipient.slack_team_id:
            raise PermanentDeliveryError(NO_WORKSPACE)
        client = self._client(await self._bot_token(recipient.slack_team_id))
        if payload.kind == NotificationKind.STATUS and payload.message_reference:
            return await self._update_card(client, payload)
        channel = recipient.slack_channel_id
        if not channel:
            assert recipient.slack_user_id  # checked above: without a channel there is a linked user
            channel = await self._open_direct_message(client, recipient.slack_user_id)
        if payload.kind == NotificationKind.TEST:
            text, blocks = check_message(payload)
        else:
            text, blocks = fallback_text(payload), incident_card(payload)
        await self.pacer.wait(channel)
        posted = await _call(
            "chat.postMessage", client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
        )
        return _posted(posted["channel"], posted["ts"])

    async def _open_direct_message(self, client: AsyncWebClient, slack_user_id: str) -> str:
        opened = await _call("conversations.open", client.conversations_open(users=slack_user_id))
        return opened["channel"]["id"]

    async def _update_card(self, client: AsyncWebClient, payload: NotificationPayload) -> ChannelDeliveryResult:
        reference = payload.message_reference
        assert reference is not None  # only called for a payload that has one
        updated = await _call("chat.update", client.chat_update(
            channel=reference["channel"], ts=reference["ts"], text=fallback_text(payload), blocks=incident_card(payload),
        ))
        return _posted(updated["channel"], updated["ts"])

    def _client(self, token: str | None = None) -> AsyncWebClient:
        # No SDK retries: the dispatcher owns retrying, with backoff and an attempt cap.
        return AsyncWebClient(
            token=token, base_url=self.api_url, session=self.session, retry_handlers=[], logger=self._sdk_log,
        )

    async def _bot_token(self, team_id: str) -> str:
        stored = await self._stored_token(team_id)
        if not self._needs_refresh(stored):
            return stored.token
        # One refresh per workspace at a time: the sends of a batch would otherwise all refresh.
        async with self._refreshing.setdefault(team_id, asyncio.Lock()):
            stored = await self._stored_token(team_id)
            if not self._needs_refresh(stored):
                return stored.token
            refreshed = await _call("oauth.v2.access", self._client().oauth_v2_access(
                client_id=self.app.client_id, client_secret=self.app.client_secret,
                grant_type="refresh_token", refresh_token=stored.refresh_token,
            ))
            lifetime = refreshed.get("expires_in")
            expires_at = self._now() + timedelta(seconds=int(lifetime)) if lifetime else None
            await self.tokens.rotated(stored, refreshed["access_token"], refreshed.get("refresh_token"), expires_at)
            return refreshed["access_token"]

    async def _stored_token(self, team_id: str) -> BotToken:
        stored = await self.tokens.for_team(team_id)
        if stored is None:
            raise PermanentDeliveryError(f"Ackbot is not installed in Slack workspace {team_id}")
        return stored

    def _needs_refresh(self, stored: BotToken) -> bool:
        expiring = stored.expires_at is not None and stored.expires_at - self._now() < ROTATION_MARGIN
        return expiring and bool(stored.refresh_token)


def _posted(channel: str, ts: str) -> ChannelDeliveryResult:
    return ChannelDeliveryResult.delivered(provider_id=f"{channel}:{ts}", message_reference={"channel": channel, "ts": ts})


async def _call(method: str, call: Awaitable):
    """The response of Web API ``method``; a Slack error becomes a classified delivery error."""
    try:
        return await call
    except SlackApiError as error:
        raise classify_slack_error(method, error.response) from None


def classify_slack_error(method: str, response) -> Exception:
    """The delivery error for a failed Web API response (status, headers, ``error`` field).
    slack_sdk hands over its own response, or the raw aiohttp one when the body was not JSON."""
    data = getattr(response, "data", None)
    data = data if isinstance(data, dict) else {}
    status: int = getattr(response, "status_code", 0) or getattr(response, "status", 0)
    error = data.get("error") or f"HTTP {status}"
    message = f"Slack {method}: {error}"
    # Slack sends Retry-After with ok:false rate limits too, not only with HTTP 429.
    if status == 429 or status >= 500 or error in TEMPORARY_ERRORS:
        retry_after = parse_retry_after((response.headers or {}).get("Retry-After"), datetime.now(UTC))
        return TemporaryDeliveryError(message, retry_after)
    return PermanentDeliveryError(message)
