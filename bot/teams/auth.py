"""Bot Framework authentication for the Teams bot, on botframework-connector's own rules.

Inbound, ``ConfigurationBotFrameworkAuthentication`` (parameterised with the configured OpenID
metadata URL) checks every request's JWT: issuer, audience = the app id, signature with a key
from the metadata, expiry (5 minutes' tolerance), the key's endorsement of the channel, and the
``serviceurl`` claim against the activity's serviceUrl. Four gaps of botframework-connector
4.17.1 are closed here:

- its key fetcher (``_OpenIdMetadata``) uses blocking ``requests`` calls without a timeout on
  the event loop, and fetches again on every request while the endpoint is down;
  ``SigningKeys`` takes its place in the SDK's metadata cache, fetches with aiohttp, one fetch
  at a time, and backs off after a failed one;
- a token it cannot check (unknown key id, bad signature, expired, malformed, missing) raises
  arbitrary exceptions, which become 500s; ``GuardedAuthentication`` turns every one into the
  PermissionError the adapter answers 401 to;
- it checks the expiry only of a token that has one; ``GuardedAuthentication`` refuses a token
  without ``exp``;
- its outbound credentials fetch the bot's token with MSAL, synchronously, once per turn;
  ``TokenCredentialFactory`` hands out credentials that add the shared, cached
  ``BotFrameworkToken`` asynchronously when a request is actually made.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    PasswordServiceClientCredentialFactory,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm
from msrest.pipeline import AsyncHTTPPolicy

from channels.base import backoff_delay
from channels.teams import BotCredentials, BotFrameworkToken

log = logging.getLogger("ackbot.teams")

KEYS_MAX_AGE = 24 * 3600.0
# An unknown key id refreshes the keys at most this often, so forged key ids cannot make the
# bot hammer the metadata endpoint.
UNKNOWN_KEY_REFRESH = 3600.0
# After a failed fetch no request fetches again for a while: 5 s, doubling to 5 minutes, so a
# request flood while the endpoint is down never becomes a flood towards it.
KEYS_RETRY_BASE = 5.0
KEYS_RETRY_CAP = 300.0


class SigningKeysUnavailable(Exception):
    """The OpenID metadata or its keys could not be fetched: no token can be checked for
    ``retry_after`` seconds."""

    def __init__(self, url: str, retry_after: int):
        super().__init__(url)
        self.retry_after = retry_after


class _SigningKey:
    def __init__(self, public_key, endorsements):
        self.public_key = public_key
        self.endorsements = endorsements


class SigningKeys:
    """The keys published at an OpenID metadata URL, in the shape botframework-connector's
    ``JwtTokenExtractor`` reads (``await get(kid)`` → ``public_key`` and ``endorsements``).

    One fetch at a time; after a failed one, none until its backoff has passed."""

    def __init__(self, metadata_url: str, session: aiohttp.ClientSession, clock: Callable[[], float] = time.monotonic):
        self.url = metadata_url
        self._session = session
        self._clock = clock
        self._keys: dict[str, dict] = {}
        self._fetched_at: float | None = None
        self._failures = 0
        self._retry_at = -math.inf
        self._lock = asyncio.Lock()

    async def get(self, key_id: str | None) -> _SigningKey:
        async with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at > KEYS_MAX_AGE:
                await self._refresh()
            assert self._fetched_at is not None  # set by _refresh
            if key_id not in self._keys and self._clock() - self._fetched_at > UNKNOWN_KEY_REFRESH:
                await self._refresh()
        key = self._keys.get(key_id) if key_id is not None else None
        if key is None:  # the SDK would fail on None with an AttributeError
            raise PermissionError("the token is signed with an unknown key")
        return _SigningKey(RSAAlgorithm.from_jwk(json.dumps(key)), key.get("endorsements", []))

    async def _refresh(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            raise SigningKeysUnavailable(self.url, math.ceil(self._retry_at - now))
        try:
            metadata = await self._get_json(self.url)
            keys = await self._get_json(metadata["jwks_uri"])
            self._keys = {key["kid"]: key for key in keys["keys"] if "kid" in key}
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
        async with self._session.get(url, raise_for_status=True) as response:
            return await response.json(content_type=None)


def install_signing_keys(keys: SigningKeys) -> Callable[[], None]:
    """Put ``keys`` in the SDK's metadata cache for its URL; returns the undo."""
    JwtTokenExtractor.metadataCache[keys.url] = keys

    def remove() -> None:
        if JwtTokenExtractor.metadataCache.get(keys.url) is keys:
            del JwtTokenExtractor.metadataCache[keys.url]

    return remove


class _BearerTokenPolicy(AsyncHTTPPolicy):
    """msrest credentials that add the bot's token to each request as it is sent."""

    def __init__(self, token: BotFrameworkToken):
        super().__init__()
        self._token = token

    async def send(self, request, **kwargs):
        request.http_request.headers["Authorization"] = f"Bearer {await self._token.get()}"
        return await self.next.send(request, **kwargs)


class TokenCredentialFactory(PasswordServiceClientCredentialFactory):
    """The SDK's password credential rules (which app ids are valid), with credentials backed
    by one shared ``BotFrameworkToken``."""

    def __init__(self, credentials: BotCredentials, token: BotFrameworkToken):
        super().__init__(credentials.app_id, credentials.password, credentials.tenant_id or None)
        self._token = token

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("credentials asked for another app id")
        return _BearerTokenPolicy(self._token)


class GuardedAuthentication(ConfigurationBotFrameworkAuthentication):
    """The SDK's authentication, where every failure to authenticate is a PermissionError."""

    async def authenticate_request(self, activity, auth_header: str) -> AuthenticateRequestResult:
        if not auth_header or not auth_header.strip():
            raise PermissionError("no Authorization header")
        try:
            result = await super().authenticate_request(activity, auth_header)
        except (PermissionError, SigningKeysUnavailable):
            raise
        except Exception as error:  # the SDK's checks raise whatever the failing step raises
            raise PermissionError(f"token rejected ({type(error).__name__})") from None
        # The SDK checks an expiry (with 5 minutes' clock skew) only when the token has one.
        if "exp" not in (result.claims_identity.claims or {}):
            raise PermissionError("the token has no expiry")
        return result


def build_authentication(credentials: BotCredentials, token: BotFrameworkToken, metadata_url: str,
                         token_service_url: str) -> GuardedAuthentication:
    """Authentication with the Bot Framework's public-cloud rules and the configured endpoints."""
    configuration = SimpleNamespace(
        APP_ID=credentials.app_id, APP_TYPE=credentials.app_type, APP_TENANTID=credentials.tenant_id,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=credentials.token_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        OAUTH_URL=token_service_url,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=metadata_url,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    )
    return GuardedAuthentication(configuration, credentials_factory=TokenCredentialFactory(credentials, token))
