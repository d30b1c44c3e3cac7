"""What every channel adapter shares: error handling and classification, backoff, formatting.

Adapters subclass ``BaseChannel``, implement ``deliver`` and raise ``TemporaryDeliveryError`` or
``PermanentDeliveryError`` (or return a failure, e.g. from ``classify_http_failure``);
``send`` turns everything into a ``ChannelDeliveryResult`` and logs failures without secrets.
"""
from __future__ import annotations

import logging
import random as _random
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from channels.types import ChannelDeliveryResult, ChannelTraits, NotificationPayload

logger = logging.getLogger("ackbot.channels")

# asyncio.TimeoutError is TimeoutError (Python 3.11+); aiohttp.ServerTimeoutError is both a
# TimeoutError and a ClientConnectionError. ConnectionError covers non-aiohttp transports (SMTP).
TRANSIENT_ERRORS = (
    TimeoutError,
    ConnectionError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
)


class TemporaryDeliveryError(Exception):
    """Raised by an adapter when a later attempt may succeed; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """Raised by an adapter when retrying cannot help."""


class BaseChannel(ABC):
    """A ``NotificationChannel`` whose ``send`` never raises for a delivery problem.

    A subclass declares ``name`` and ``traits``: how the incident rules treat it (see
    ``incidents.channel_traits``); ``channels.registry`` collects them."""

    name: str
    traits: ClassVar[ChannelTraits]

    @abstractmethod
    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        """Send ``payload``; may raise. ``send`` classifies what it raises."""

    async def send(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        return await self.with_error_handling(lambda: self.deliver(payload), payload)

    async def with_error_handling(
        self,
        operation: Callable[[], Awaitable[ChannelDeliveryResult]],
        payload: NotificationPayload,
    ) -> ChannelDeliveryResult:
        """The operation's result, with exceptions turned into classified failures.

        Transport trouble (timeouts, connection and payload errors) and a raised 408/425/429/5xx
        are temporary; any other exception is permanent, so a bug cannot retry forever.
        Cancellation propagates. Every failure's error is redacted and logged at WARNING.
        """
        try:
            result = await operation()
        except TemporaryDeliveryError as error:
            result = ChannelDeliveryResult.temporary_failure(str(error), error.retry_after)
        except PermanentDeliveryError as error:
            result = ChannelDeliveryResult.permanent_failure(str(error))
        except aiohttp.ClientResponseError as error:
            result = classify_http_failure(error.status, error.headers or {}, error.message)
        except TRANSIENT_ERRORS as error:
            result = ChannelDeliveryResult.temporary_failure(_describe(error))
        except Exception as error:
            result = ChannelDeliveryResult.permanent_failure(_describe(error))
        if result.success:
            return result
        result = replace(result, error=redact(result.error or "unspecified failure"))
        logger.warning(
            "%s delivery failed (%s) for incident %s, user %s: %s",
            self.name,
            "temporary" if result.temporary else "permanent",
            payload.incident_id,
            payload.user_id,
            result.error,
        )
        return result


def _describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_SECRETS = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@"), r"\1:[REDACTED]@"),
    (re.compile(r"\b(xox[abposer]|xapp)-[A-Za-z0-9-]+"), r"\1-[REDACTED]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)\b(\w*(?:token|key|password|secret))=[^&\s\"']+"), r"\1=[REDACTED]"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]+"), "[REDACTED]"),
)


def redact(text: str) -> str:
    """``text`` without credentials: Slack tokens, Bearer/Basic values, token/key/password/secret
    parameters, URL passwords and JWTs. Applied to every error a channel returns or logs."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def classify_http_failure(
    status: int,
    headers: Mapping[str, str],
    detail: str = "",
    now: datetime | None = None,
) -> ChannelDeliveryResult:
    """The failure for an unsuccessful HTTP response.

    408, 425, 429 and 5xx are temporary, honouring Retry-After when sent; any other status is
    permanent. The error reads ``HTTP 503: <detail, at most 200 characters>``.
    """
    detail = truncate(" ".join(detail.split()), 200)
    error = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status in (408, 425, 429) or status >= 500:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now or datetime.now(UTC))
        return ChannelDeliveryResult.temporary_failure(error, retry_after)
    return ChannelDeliveryResult.permanent_failure(error)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # A plain dict is case-sensitive; HTTP header names are not.
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (RFC 9110).

    A date in the past gives 0.0; a missing, negative or unparseable value gives ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" and asctime dates parse naive; HTTP-dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def backoff_delay(
    attempt: int,
    *,
    base: float = 2.0,
    cap: float = 300.0,
    retry_after: float | None = None,
    random: Callable[[], float] = _random.random,
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential with equal jitter.

    The delay ``min(cap, base * 2 ** (attempt - 1))`` is halved and the other half is random, so
    retries spread out but never come sooner than half the delay. A provider's ``retry_after``
    is a floor, honoured even above ``cap``.
    """
    # The exponent is bounded so a huge attempt count cannot overflow a float.
    delay = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 1000))
    jittered = delay / 2 + random() * delay / 2
    return jittered if retry_after is None else max(retry_after, jittered)


@lru_cache(maxsize=4096)  # every card shows a few times, in a few zones, again and again
def format_timestamp(moment: datetime, time_zone: str) -> str:
    """``moment`` in the IANA ``time_zone``, e.g. ``Sat 28 Nov 2026, 15:02 CET``.

    An unknown zone falls back to UTC. ``moment`` must be aware.
    """
    if moment.tzinfo is None:
        raise ValueError("format_timestamp needs an aware datetime")
    zone: tzinfo
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with "…" when cut.

    Cuts at a word boundary when one falls within the last 20% of the room.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    room = limit - 1
    boundary = max(text.rfind(space, 0, room + 1) for space in " \n\t")
    if boundary >= room * 0.8:
        room = boundary
    return text[:room].rstrip() + "…"
