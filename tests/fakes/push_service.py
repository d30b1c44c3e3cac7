"""A fake Web Push service (RFC 8030) and the browser side of a subscription.

``FakePushService`` accepts ``POST /push/{name}``: it records the encrypted body and headers and
answers 201 with a ``Location``, or 410 for subscriptions marked gone, or whatever fault it was
told to serve next (404, 429 with Retry-After, 5xx, a delay).

``BrowserSubscription`` is what a browser makes when it subscribes: a P-256 key pair and a 16-byte
auth secret; it gives the JSON the browser would send and decrypts what the push service received.
``verify_vapid`` checks an ``Authorization: vapid t=…, k=…`` header the way a push service does.
"""
from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt
from py_vapid.utils import b64urlencode

from tests.fakes.service import FakeService

_VAPID_HEADER = re.compile(r"vapid t=(?P<t>[^,\s]+),\s*k=(?P<k>[^,\s]+)")


class FakePushService(FakeService):
    def __init__(self, ssl_context=None):
        super().__init__(ssl_context)
        self.gone: set[str] = set()
        self.delivered = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/push/{name}", self.receive)

    def endpoint(self, name: str) -> str:
        return f"{self.url}/push/{name}"

    def mark_gone(self, name: str) -> None:
        """Answer 410 Gone for this subscription from now on (the browser unsubscribed)."""
        self.gone.add(name)

    async def receive(self, request: web.Request) -> web.Response:
        fault = await self.fault_or_none(request)
        if fault is not None:
            return fault
        if request.match_info["name"] in self.gone:
            return web.json_response({"errno": 106, "message": "subscription expired"}, status=410)
        self.delivered += 1
        return web.Response(status=201, headers={"Location": f"{self.url}/m/{self.delivered}"})

    def messages_to(self, name: str):
        return self.requests_to(f"/push/{name}")


class BrowserSubscription:
    """One browser's push subscription keys, made as a browser makes them."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    @property
    def p256dh(self) -> str:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64urlencode(public)

    @property
    def auth(self) -> str:
        return b64urlencode(self.auth_secret)

    def to_json(self) -> dict:
        """What ``PushSubscription.toJSON()`` gives in a browser."""
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def as_recipient_entry(self, subscription_id: int = 1) -> dict:
        """The subscription as ``Recipient.push_subscriptions`` carries it."""
        return {"id": subscription_id, "endpoint": self.endpoint, "p256dh": self.p256dh, "auth": self.auth}

    def decrypt(self, body: bytes) -> dict:
        """The JSON message inside an aes128gcm body (RFC 8291), as the browser reads it."""
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")
        return json.loads(plain)


def verify_vapid(authorization: str, endpoint: str) -> tuple[str, dict]:
    """(public key, claims) of a valid VAPID header for ``endpoint``; raises AssertionError or
    InvalidSignature otherwise."""
    match = _VAPID_HEADER.fullmatch(authorization)
    assert match, f"not a VAPID header: {authorization[:20]}…"
    claims = vapid_jwt.decode(match["t"], match["k"])
    parts = urlsplit(endpoint)
    assert claims["aud"] == f"{parts.scheme}://{parts.netloc}"
    return match["k"], claims
