"""Twilio's REST API as the SMS and voice channels use it: the ``twilio`` SDK on its asyncio HTTP
client, over Ackbot's shared aiohttp session, pointed at ``ACKBOT_TWILIO_API_URL``, with every
error answer turned into a temporary or permanent delivery failure.

Error classes: 429 (and Twilio's own rate-limit code 20429), 408, 425 and 5xx are temporary,
honouring Retry-After; every other 4xx is permanent, notably 21211 (not a valid number), 21614 (not
a mobile number) and 21610 (the person replied STOP). Timeouts and connection trouble surface as
aiohttp/asyncio errors, which ``BaseChannel`` classifies as temporary.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aiohttp import encode_basic_auth
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import PermanentDeliveryError, TemporaryDeliveryError, classify_http_failure

RATE_LIMITED = 20429
UNSUBSCRIBED = 21610
_HINTS: dict[int | None, str] = {UNSUBSCRIBED: "they replied STOP to this number; replying START lets Ackbot text them again"}

# With an empty mapping the SDK falls back to os.environ, where TWILIO_EDGE / TWILIO_REGION would
# rewrite the API host; Ackbot's settings are its only configuration.
_NO_ENVIRONMENT = MappingProxyType({"TWILIO_EDGE": "", "TWILIO_REGION": ""})


class _DebugLog(logging.LoggerAdapter):
    """The SDK logs every request and response at INFO: a dozen lines per page at Ackbot's
    default level. Ackbot logs failures itself, so the SDK's lines go to DEBUG."""

    def info(self, message, *args, **kwargs):
        self.debug(message, *args, **kwargs)


_SDK_LOG = _DebugLog(logging.getLogger("ackbot.channels.twilio"), {})


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    api_url: str = "https://api.twilio.com"
    timeout: float = 10.0


class TwilioApiError(Exception):
    """A non-2xx answer from Twilio, with its headers (the SDK's own exception drops them, and
    with them Retry-After). ``code`` is Twilio's error code when the body carried one."""

    def __init__(self, status: int, code: int | None, message: str, headers: Mapping[str, str]):
        super().__init__(f"Twilio error {code}: {message}" if code else message)
        self.status = status
        self.code = code
        self.headers = headers

    @classmethod
    def from_response(cls, response) -> TwilioApiError:
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, None, response.text[:200], response.headers or {})
        code = body.get("code")
        message = body.get("message") or body.get("detail") or body.get("title") or ""
        return cls(response.status_code, code if isinstance(code, int) else None, str(message), response.headers or {})

    def delivery_error(self) -> Exception:
        """The TemporaryDeliveryError or PermanentDeliveryError this answer means."""
        hint = _HINTS.get(self.code)
        detail = f"{self} ({hint})" if hint else str(self)
        status = 429 if self.code == RATE_LIMITED else self.status
        result = classify_http_failure(status, self.headers, detail)
        assert result.error is not None  # a failure always says what failed
        if result.temporary:
            return TemporaryDeliveryError(result.error, result.retry_after)
        return PermanentDeliveryError(result.error)


class _HttpClient(AsyncTwilioHttpClient):
    """The SDK's asyncio client on Ackbot's shared session. Unlike the SDK's, it applies its own
    timeout (the SDK passes none, which aiohttp reads as "wait forever"), sends the credentials as
    a header (aiohttp deprecates the ``BasicAuth`` object the SDK would pass), and raises
    ``TwilioApiError`` for an error answer before the SDK can drop its headers."""

    def __init__(self, session, timeout: float):
        super().__init__(pool_connections=False, timeout=timeout, logger=_SDK_LOG)
        self.session = session

    async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                      allow_redirects=False):
        if auth is not None:
            headers = {**(headers or {}), "Authorization": encode_basic_auth(*auth)}
        response = await super().request(
            method, url, params=params, data=data, headers=headers, auth=None,
            timeout=timeout or self.timeout, allow_redirects=allow_redirects,
        )
        if not 200 <= response.status_code < 300:
            raise TwilioApiError.from_response(response)
        return response


class TwilioApi:
    """Sends messages and places calls from the account's number; returns Twilio's SID.

    Raises ``TemporaryDeliveryError`` or ``PermanentDeliveryError`` for an error answer; lets
    transport errors through for ``BaseChannel`` to classify.
    """

    def __init__(self, account: TwilioAccount, session):
        self.from_number = account.from_number
        self._client = Client(
            account.account_sid, account.auth_token, http_client=_HttpClient(session, account.timeout),
            environment=_NO_ENVIRONMENT,
        )
        self._client.api.base_url = account.api_url

    async def send_message(self, to: str, body: str, status_callback: str) -> str:
        try:
            message = await self._client.messages.create_async(
                to=to, from_=self.from_number, body=body, status_callback=status_callback,
            )
        except TwilioApiError as error:
            raise error.delivery_error() from None
        return _sid(message, "message")

    async def start_call(self, to: str, twiml_url: str, status_callback: str) -> str:
        """Ring ``to``; Twilio fetches the call's TwiML from ``twiml_url`` when it is answered, and
        reports "answered" and "completed" (or busy, no-answer, failed, canceled) to
        ``status_callback``."""
        try:
            call = await self._client.calls.create_async(
                to=to, from_=self.from_number, url=twiml_url, method="POST",
                status_callback=status_callback, status_callback_method="POST",
                status_callback_event=["answered", "completed"],
            )
        except TwilioApiError as error:
            raise error.delivery_error() from None
        return _sid(call, "call")


def _sid(resource, what: str) -> str:
    """The SID Twilio gave the new resource; without one no receipt could ever be matched, so an
    answer lacking it is a failed send, not a sent one."""
    if not getattr(resource, "sid", None):
        raise PermanentDeliveryError(f"Twilio accepted the {what} but returned no SID")
    return resource.sid
