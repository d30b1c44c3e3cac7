"""Twilio's REST API as the SMS and voice channels use it: two form-encoded POSTs (Messages.json
and Calls.json) with HTTP Basic auth, over Ackbot's shared aiohttp session, pointed at
``ACKBOT_TWILIO_API_URL``, with every error answer turned into a temporary or permanent delivery
failure.

Written here rather than through the ``twilio`` SDK (which Ackbot still uses to check webhook
signatures): the SDK's request building, logging and form encoding made a message cost 0.20 ms of
CPU against 0.13 ms here (1,000 sends to a fake Twilio, alternated), on a page that costs the
dispatcher about 0.7 ms in all. Here the URLs, headers and the sender's part of the form are built
once.

Error classes: 429 (and Twilio's own rate-limit code 20429), 408, 425 and 5xx are temporary,
honouring Retry-After; every other 4xx is permanent, notably 21211 (not a valid number), 21614 (not
a mobile number) and 21610 (the person replied STOP). Timeouts and connection trouble surface as
aiohttp/asyncio errors, which ``BaseChannel`` classifies as temporary.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, quote_plus

from aiohttp import ClientTimeout, encode_basic_auth

from channels.base import PermanentDeliveryError, TemporaryDeliveryError, classify_http_failure

RATE_LIMITED = 20429
UNSUBSCRIBED = 21610
_HINTS: dict[int | None, str] = {UNSUBSCRIBED: "they replied STOP to this number; replying START lets Ackbot text them again"}
API_VERSION = "2010-04-01"


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    api_url: str = "https://api.twilio.com"
    timeout: float = 10.0


class TwilioApiError(Exception):
    """A non-2xx answer from Twilio, with its headers (for Retry-After). ``code`` is Twilio's
    error code when the body carried one."""

    def __init__(self, status: int, code: int | None, message: str, headers: Mapping[str, str]):
        super().__init__(f"Twilio error {code}: {message}" if code else message)
        self.status = status
        self.code = code
        self.headers = headers

    @classmethod
    def from_answer(cls, status: int, text: str, headers: Mapping[str, str]) -> TwilioApiError:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(status, None, text[:200], headers)
        code = body.get("code")
        message = body.get("message") or body.get("detail") or body.get("title") or ""
        return cls(status, code if isinstance(code, int) else None, str(message), headers)

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


# The same values come again and again (a status callback URL, a person's number, one incident's
# text to each person paged about it), and quote_plus is pure Python, character by character.
_quoted = lru_cache(maxsize=4096)(quote_plus)


def _form(*fields: tuple[str, str]) -> str:
    return "&".join(f"{name}={_quoted(value)}" for name, value in fields)


class TwilioApi:
    """Sends messages and places calls from the account's number; returns Twilio's SID.

    Raises ``TemporaryDeliveryError`` or ``PermanentDeliveryError`` for an error answer; lets
    transport errors through for ``BaseChannel`` to classify.
    """

    def __init__(self, account: TwilioAccount, session):
        self.from_number = account.from_number
        self._session = session
        base = f"{account.api_url.rstrip('/')}/{API_VERSION}/Accounts/{quote(account.account_sid, safe='')}"
        self._messages = f"{base}/Messages.json"
        self._calls = f"{base}/Calls.json"
        self._headers = {
            "Authorization": encode_basic_auth(account.account_sid, account.auth_token),
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        }
        self._timeout = ClientTimeout(total=account.timeout)
        self._sender = _form(("From", account.from_number))

    async def send_message(self, to: str, body: str, status_callback: str) -> str:
        form = _form(("To", to), ("Body", body), ("StatusCallback", status_callback))
        return _sid(await self._create(self._messages, form), "message")

    async def start_call(self, to: str, twiml_url: str, status_callback: str) -> str:
        """Ring ``to``; Twilio fetches the call's TwiML from ``twiml_url`` when it is answered, and
        reports "answered" and "completed" (or busy, no-answer, failed, canceled) to
        ``status_callback``."""
        form = _form(
            ("To", to), ("Url", twiml_url), ("Method", "POST"), ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"), ("StatusCallbackEvent", "answered"), ("StatusCallbackEvent", "completed"),
        )
        return _sid(await self._create(self._calls, form), "call")

    async def _create(self, url: str, form: str) -> object:
        """POST ``form`` (with the sender's number) to ``url``; the answer's JSON."""
        async with self._session.post(
            url, data=f"{form}&{self._sender}".encode(), headers=self._headers, timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            text = await response.text()
            if not 200 <= response.status < 300:
                raise TwilioApiError.from_answer(response.status, text, response.headers).delivery_error()
        return json.loads(text)


def _sid(resource: object, what: str) -> str:
    """The SID Twilio gave the new resource; without one no receipt could ever be matched, so an
    answer lacking it is a failed send, not a sent one."""
    sid = resource.get("sid") if isinstance(resource, dict) else None
    if not sid or not isinstance(sid, str):
        raise PermanentDeliveryError(f"Twilio accepted the {what} but returned no SID")
    return sid
