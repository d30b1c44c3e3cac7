"""Bot Framework authentication of the requests the channel sends to ``POST /api/messages``.

Ackbot checks the channel's JWTs itself, with PyJWT, on the Bot Framework's rules for tokens
from the channel: an ``Authorization: Bearer`` token signed with RS256 by a key published at the
configured OpenID metadata URL (``kid`` among the keys); that key endorses the activity's
``channelId``; issuer ``https://api.botframework.com``; audience the bot's app id; an expiry, and
``nbf`` when present, both with five minutes' clock skew; and a ``serviceurl`` claim equal to
the activity's ``serviceUrl``. Anything else is a ``TokenRejected``.

``SigningKeys`` fetches the keys with aiohttp, one fetch at a time, refreshes them daily (an
unknown key id at most hourly), and backs off after a failed fetch.

The channel sends the same token with every activity for about an hour, so a token that passed
is remembered with its claims: until it expires (with the same skew), and while the key that
signed it is still the one published under its key id (a refresh that drops or replaces it
ends that). What depends on the request (the channel the key must endorse, the serviceUrl) is
checked on every one.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm

from channels.base import backoff_delay

log = logging.getLogger("ackbot.teams")

CHANNEL_ISSUER = "https://api.botframework.com"
SIGNING_ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE = 24 * 3600.0
# An unknown key id refreshes the keys at most this often, so forged key ids cannot make the
# bot hammer the metadata endpoint.
UNKNOWN_KEY_REFRESH = 3600.0
# After a failed fetch no request fetches again for a while: 5 s, doubling to 5 minutes, so a
# request flood while the endpoint is down never becomes a flood towards it.
KEYS_RETRY_BASE = 5.0
KEYS_RETRY_CAP = 300.0
# The fetch happens while the channel waits for the answer to an activity.
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Tokens remembered at most; past it the memory starts again.
REMEMBERED_TOKENS = 1024


class TokenRejected(PermissionError):
    """The request's token does not prove it comes from the Bot Framework channel; the message
    says which rule it broke (Ackbot's words, never the token's)."""


class SigningKeysUnavailable(Exception):
    """The OpenID metadata or its keys could not be fetched: no token can be checked for
    ``retry_after`` seconds."""

    def __init__(self, url: str, retry_after: int):
        super().__init__(url)
        self.retry_after = retry_after


class SigningKey:
    def __init__(self, public_key, endorsements: list[str]):
        self.public_key = public_key
        self.endorsements = endorsements


class SigningKeys:
    """The keys published at an OpenID metadata URL (``jwks_uri``), by key id.

    One fetch at a time; after a failed one, none until its backoff has passed."""

    def __init__(self, metadata_url: str, session: aiohttp.ClientSession, clock: Callable[[], float] = time.monotonic):
        self.url = metadata_url
        self._session = session
        self._clock = clock
        self._keys: dict[str, dict] = {}
        self._parsed: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._failures = 0
        self._retry_at = -math.inf
        self._lock = asyncio.Lock()

    async def get(self, key_id: str) -> SigningKey:
        """The key with ``key_id``, the same object until the keys are fetched again; raises
        TokenRejected for a key id the metadata does not publish, SigningKeysUnavailable when
        the keys cannot be fetched."""
        async with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at > KEYS_MAX_AGE:
                await self._refresh()
            assert self._fetched_at is not None  # set by _refresh
            if key_id not in self._keys and self._clock() - self._fetched_at > UNKNOWN_KEY_REFRESH:
                await self._refresh()
        parsed = self._parsed.get(key_id)
        if parsed is None:
            parsed = self._parsed[key_id] = self._parse(key_id)
        return parsed

    def _parse(self, key_id: str) -> SigningKey:
        key = self._keys.get(key_id)
        if key is None:
            raise TokenRejected("the token is signed with an unknown key")
        try:
            public_key = RSAAlgorithm.from_jwk(json.dumps(key))
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            raise TokenRejected("the token's signing key is not an RSA key") from None
        endorsements = key.get("endorsements")
        return SigningKey(public_key, [item for item in endorsements if isinstance(item, str)]
                          if isinstance(endorsements, list) else [])

    async def _refresh(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            raise SigningKeysUnavailable(self.url, math.ceil(self._retry_at - now))
        try:
            metadata = await self._get_json(self.url)
            keys = await self._get_json(metadata["jwks_uri"])
            self._keys = {key["kid"]: key for key in keys["keys"] if "kid" in key}
            self._parsed = {}
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as error:
            self._failures += 1
            delay = backoff_delay(self._failures, base=KEYS_RETRY_BASE, cap=KEYS_RETRY_CAP)
            self._retry_at = self._clock() + delay
            log.error(
                "cannot fetch the Bot Framework signing keys from %s: %s; next try in %.0f s",
                self.url, type(error).__name__, delay,
            )
            raise SigningKeysUnavailable(self.url, math.ceil(delay)) from None
        self._failures, self._retry_at = 0, -math.inf
        self._fetched_at = self._clock()

    async def _get_json(self, url: str):
        async with self._session.get(url, raise_for_status=True, timeout=FETCH_TIMEOUT) as response:
            return await response.json(content_type=None)


@dataclass(frozen=True)
class _Passed:
    """A token that passed: the key that signed it, its claims, and until when (wall clock)
    it may be used."""

    key_id: str
    key: SigningKey
    claims: dict
    usable_until: float


class ChannelTokens:
    """Checks the channel's token on each request for the bot ``app_id``."""

    def __init__(self, keys: SigningKeys, app_id: str):
        self.keys = keys
        self.app_id = app_id
        self._passed: dict[str, _Passed] = {}

    async def check(self, authorization: str, channel_id: str | None, service_url: str) -> dict:
        """The token's claims when ``authorization`` ("Bearer <JWT>") holds a valid channel
        token for an activity with ``channel_id`` and ``service_url``; raises TokenRejected or
        SigningKeysUnavailable."""
        token = _bearer_token(authorization)
        passed = await self._remembered(token)
        if passed is None:
            key_id = _key_id(token)
            key = await self.keys.get(key_id)
            _check_endorsed(key, channel_id)
            claims = self._verified_claims(token, key)
            if claims["aud"] != self.app_id:  # PyJWT also accepts a list holding the app id
                raise TokenRejected("the token's audience is not only this bot")
            passed = self._remember(token, _Passed(key_id, key, claims, int(claims["exp"]) + CLOCK_SKEW_SECONDS))
        else:
            _check_endorsed(passed.key, channel_id)
        if passed.claims.get("serviceurl") != service_url:
            raise TokenRejected("the token's serviceurl claim is not the activity's serviceUrl")
        return passed.claims

    async def _remembered(self, token: str) -> _Passed | None:
        """The token as it passed before, when it is still unexpired and its key still published."""
        passed = self._passed.get(token)
        if passed is None:
            return None
        if time.time() < passed.usable_until:  # the clock PyJWT checks expiry with
            try:
                if await self.keys.get(passed.key_id) is passed.key:
                    return passed
            except TokenRejected:  # the key is gone
                pass
        self._passed.pop(token, None)
        return None

    def _remember(self, token: str, passed: _Passed) -> _Passed:
        if len(self._passed) >= REMEMBERED_TOKENS:
            self._passed.clear()
        self._passed[token] = passed
        return passed

    def _verified_claims(self, token: str, key: SigningKey) -> dict:
        try:
            return jwt.decode(
                token, key.public_key, algorithms=[SIGNING_ALGORITHM], audience=self.app_id,
                issuer=CHANNEL_ISSUER, leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise TokenRejected(f"the token is invalid ({type(error).__name__})") from None


def _key_id(token: str) -> str:
    """The id of the key the token says it is signed with (an RS256 signature, unverified yet)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejected("the token is not a JWT") from None
    if header.get("alg") != SIGNING_ALGORITHM:
        raise TokenRejected("the token is not signed with RS256")
    key_id = header.get("kid")
    if not isinstance(key_id, str) or not key_id:
        raise TokenRejected("the token names no signing key")
    return key_id


def _check_endorsed(key: SigningKey, channel_id: str | None) -> None:
    if channel_id and channel_id not in key.endorsements:
        raise TokenRejected("the signing key does not endorse the activity's channel")


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("no Bearer token")
    return token.strip()
