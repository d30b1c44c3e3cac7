"""Web Push subscriptions: checking what a browser sends, keeping one row per endpoint, and
forgetting endpoints a push service disowned. Synchronous helpers run inside ``database.run``
(or inside the caller's transaction)."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from storage.database import write_transaction
from storage.models import PushSubscription

MAX_ENDPOINT_LENGTH = 2000
MAX_USER_AGENT_LENGTH = 500


class SubscriptionError(ValueError):
    """A subscription a browser sent cannot be used; ``field`` names the part that is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, repr=False)
class SubscriptionInfo:
    """A browser's ``PushSubscription.toJSON()``, checked: an https endpoint, the browser's P-256
    public key (``p256dh``) and its 16-byte ``auth`` secret, both URL-safe base64."""

    endpoint: str
    p256dh: str
    auth: str

    def __repr__(self) -> str:
        return "SubscriptionInfo(endpoint='***', p256dh='***', auth='***')"


def _decoded(value, field: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise SubscriptionError(f"{field} must be URL-safe base64 text", field)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SubscriptionError(f"{field} must be URL-safe base64 text", field) from None


def parse_subscription(data) -> SubscriptionInfo:
    """The subscription in ``data`` (``{endpoint, keys: {p256dh, auth}}``); raises SubscriptionError."""
    if not isinstance(data, dict):
        raise SubscriptionError("expected a JSON object: {endpoint, keys: {p256dh, auth}}", "subscription")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise SubscriptionError(f"endpoint must be an https:// URL of at most {MAX_ENDPOINT_LENGTH} characters", "endpoint")
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise SubscriptionError("endpoint must be an https:// URL of a push service", "endpoint")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("keys must be an object with p256dh and auth", "keys")
    public = _decoded(keys.get("p256dh"), "keys.p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise SubscriptionError("keys.p256dh must be an uncompressed P-256 public key", "keys.p256dh") from None
    if len(_decoded(keys.get("auth"), "keys.auth")) != 16:
        raise SubscriptionError("keys.auth must be a 16-byte secret", "keys.auth")
    return SubscriptionInfo(endpoint, keys["p256dh"], keys["auth"])


def save_subscription(user_id: int, info: SubscriptionInfo, user_agent: str | None, now: datetime) -> None:
    """Keep ``info`` for the person. An endpoint belongs to one browser, so registering it again
    (after a key change, or by someone else signing in there) replaces the earlier row."""
    values = {
        PushSubscription.user: user_id, PushSubscription.p256dh: info.p256dh, PushSubscription.auth: info.auth,
        PushSubscription.user_agent: (user_agent or "")[:MAX_USER_AGENT_LENGTH] or None,
    }
    PushSubscription.insert({**values, PushSubscription.endpoint: info.endpoint, PushSubscription.created_at: now}).on_conflict(
        conflict_target=[PushSubscription.endpoint], update={**values, PushSubscription.created_at: now},
    ).execute()


def keep_for(user_id: int, info: SubscriptionInfo, user_agent: str | None, now: datetime) -> None:
    """Keep ``info`` for a signed-in person: their session vouches for them, so no push link is used."""
    with write_transaction():
        save_subscription(user_id, info, user_agent, now)


def forget_endpoints(user_id: int, endpoints) -> int:
    """Delete the person's subscriptions at ``endpoints`` (the push service disowned them)."""
    return PushSubscription.delete().where(
        (PushSubscription.user == user_id) & PushSubscription.endpoint.in_(list(endpoints))
    ).execute()
