"""Web Push: one encrypted message (RFC 8291, aes128gcm) to each of the person's browser
subscriptions, signed with the VAPID key (RFC 8292), sent with pywebpush's ``webpush_async`` on
the shared aiohttp session. The push service is whatever each subscription's endpoint names.

Per subscription: 201 is a success whose ``Location`` (the message's URL at the push service) is
the provider id; 404 and 410 mean the subscription is gone, so it is reported in
``gone_endpoints`` for the outbox to delete, and counts as a permanent failure; 429 and 5xx are
temporary, honouring Retry-After. Across subscriptions: a success if any succeeded, otherwise
temporary if any failure was, otherwise permanent.

Subscription endpoints are capability URLs: errors and logs name subscriptions by id only.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush_async

from channels import push_message
from channels.base import TRANSIENT_ERRORS, BaseChannel, PermanentDeliveryError, classify_http_failure, truncate
from channels.types import Channel, ChannelDeliveryResult, ChannelTraits, NotificationPayload, Reach, StatusNotice, Tier

logger = logging.getLogger("ackbot.channels")

GONE_STATUSES = (404, 410)
PROVIDER_ID_LIMIT = 500  # NotificationLog.provider_id's length
ERROR_LIMIT = 1000


def generate_vapid_keys() -> tuple[str, str]:
    """A new P-256 key pair as (private, public): the private key is 32 raw bytes and the public
    key the 65-byte uncompressed point, both URL-safe base64 without padding (the form browsers
    take as ``applicationServerKey``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64urlencode(key.private_numbers().private_value.to_bytes(32, "big"))
    return private, _public_text(key.public_key())


def load_vapid_key(text: str) -> Vapid:
    """The VAPID signer for a private key given as raw URL-safe base64 (``ackbot vapid
    generate``), base64 DER or PEM. Raises ValueError saying what was expected."""
    try:
        text = text.strip()
        if text.startswith("-----BEGIN"):
            return Vapid.from_pem(text.encode())
        return Vapid.from_string(text)
    except Exception:  # py_vapid and cryptography raise several kinds for a malformed key
        raise ValueError(
            "expected a P-256 private key: 43 characters of URL-safe base64 (`ackbot vapid generate`), base64 DER or PEM"
        ) from None


# What py_vapid (and push services) accept as the ``sub`` claim: a mail address or an https origin.
_SUBJECT = re.compile(r"mailto:[^@\s]+@(localhost|[\w-]+(\.[\w-]+)+)|https://(localhost|[\w-]+(\.[\w-]+)+)", re.IGNORECASE)


def check_vapid_subject(subject: str) -> str:
    """``subject`` when push services accept it as the VAPID contact; raises ValueError otherwise."""
    if not _SUBJECT.fullmatch(subject):
        raise ValueError(f"expected mailto:someone@example.com or an https:// origin (no path), got {subject!r}")
    return subject


def public_key_of(private_key: str) -> str:
    """The ``applicationServerKey`` for ``private_key`` (see ``load_vapid_key``)."""
    return _public_text(load_vapid_key(private_key).public_key)


def _public_text(public_key) -> str:
    return b64urlencode(public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


@dataclass(frozen=True, repr=False)
class PushConfig:
    """``ttl``: seconds a push service keeps a message for a device that is offline.
    ``timeout``: seconds one push service has to answer; keep it below the dispatcher's send
    timeout, so gone subscriptions are reported even when another push service is slow."""

    private_key: str
    subject: str
    ttl: int = 24 * 3600
    timeout: float = 8.0

    def __repr__(self) -> str:
        return f"PushConfig(subject={self.subject!r}, ttl={self.ttl}, private_key='***')"


@dataclass(frozen=True)
class _Attempt:
    """One subscription's outcome; ``gone`` is its endpoint when the push service disowned it."""

    result: ChannelDeliveryResult
    gone: str | None = None


class PushChannel(BaseChannel):
    name = Channel.PUSH
    traits = ChannelTraits(Reach.PUSH_SUBSCRIPTION, Tier.PRIMARY, StatusNotice.NEW_MESSAGE, action_links=True)

    def __init__(self, config: PushConfig, http: aiohttp.ClientSession):
        self.config = config
        self._vapid = load_vapid_key(config.private_key)
        self._http = http

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        subscriptions = payload.recipient.push_subscriptions
        if not subscriptions:
            raise PermanentDeliveryError("the person has no push subscription")
        data = push_message.encode(payload)
        headers = {"Urgency": push_message.urgency(payload)}
        topic = push_message.topic(payload)
        if topic:
            headers["Topic"] = topic
        attempts = await asyncio.gather(*(self._push(subscription, data, headers) for subscription in subscriptions))
        result = combine(attempts)
        if result.success and any(not attempt.result.success for attempt in attempts):
            logger.warning(
                "push to user %s reached some subscriptions only: %s", payload.user_id,
                "; ".join(attempt.result.error or "" for attempt in attempts if not attempt.result.success),
            )
        return result

    async def _push(self, subscription, data: bytes, headers: dict) -> _Attempt:
        label = f"subscription {subscription.get('id', '?')}"
        info = {"endpoint": subscription["endpoint"], "keys": {"p256dh": subscription["p256dh"], "auth": subscription["auth"]}}
        try:
            response = await webpush_async(
                info, data=data, vapid_private_key=self._vapid, vapid_claims={"sub": self.config.subject},
                ttl=self.config.ttl, headers=dict(headers), aiohttp_session=self._http,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            )
        except WebPushException as error:
            return await _refused(label, subscription["endpoint"], error)
        except TRANSIENT_ERRORS as error:
            return _Attempt(ChannelDeliveryResult.temporary_failure(f"{label}: push service unreachable ({type(error).__name__})"))
        except Exception as error:  # a malformed stored key or endpoint: retrying cannot help
            return _Attempt(ChannelDeliveryResult.permanent_failure(f"{label}: {type(error).__name__}"))
        location = response.headers.get("Location")
        return _Attempt(ChannelDeliveryResult.sent(provider_id=location[:PROVIDER_ID_LIMIT] if location else None))


async def _refused(label: str, endpoint: str, error: WebPushException) -> _Attempt:
    response = error.response
    status = getattr(response, "status", None)
    if status is None:  # refused before sending, e.g. keys that do not decode
        return _Attempt(ChannelDeliveryResult.permanent_failure(f"{label}: {error.message}"))
    result = classify_http_failure(status, response.headers, await response.text())
    result = replace(result, error=f"{label}: {result.error}")
    if status in GONE_STATUSES:
        return _Attempt(replace(result, error=f"{result.error} (subscription expired or unsubscribed; removed)"), endpoint)
    return _Attempt(result)


def combine(attempts) -> ChannelDeliveryResult:
    """The result across subscriptions, carrying every gone endpoint whatever the outcome."""
    gone = tuple(attempt.gone for attempt in attempts if attempt.gone)
    results = [attempt.result for attempt in attempts]
    successes = [result for result in results if result.success]
    if successes:
        provider_id = next((result.provider_id for result in successes if result.provider_id), None)
        combined = ChannelDeliveryResult.sent(provider_id=provider_id)
    else:
        error = truncate("; ".join(result.error or "failed" for result in results), ERROR_LIMIT)
        temporary = [result for result in results if result.temporary]
        if temporary:
            waits = [result.retry_after for result in temporary if result.retry_after is not None]
            combined = ChannelDeliveryResult.temporary_failure(error, max(waits) if waits else None)
        else:
            combined = ChannelDeliveryResult.permanent_failure(error)
    return replace(combined, gone_endpoints=gone)
