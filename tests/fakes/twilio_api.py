"""A fake Twilio REST API: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` and ``Calls.json``,
answering as Twilio does (201 with a SID, or Twilio's JSON error body), checking HTTP Basic auth
with the account SID and auth token. Built on ``FakeService``: every request is recorded and
faults can be injected (``twilio_error`` makes Twilio-shaped ones).

``signed`` makes the ``X-Twilio-Signature`` Twilio would send with a webhook.
"""
from __future__ import annotations

import base64
import itertools
import json

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.service import FakeService, Fault

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-auth-token"
SECONDARY_TOKEN = "twilio-test-secondary-token"
FROM_NUMBER = "+15005550006"


def twilio_error(status: int, code: int, message: str, retry_after: str | None = None) -> Fault:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Fault(status=status, body=json.dumps(body), headers=headers)


def signed(url: str, params: dict, token: str = AUTH_TOKEN) -> dict:
    """The headers of a webhook Twilio would send to ``url`` with form ``params``."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


class FakeTwilio(FakeService):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict] = []
        self.calls: list[dict] = []
        self._numbers = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        app.router.add_post(f"{base}/Messages.json", self._create_message)
        app.router.add_post(f"{base}/Calls.json", self._create_call)

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _refusal(self, request: web.Request, required: tuple[str, ...]) -> web.Response | None:
        fault = await self.fault_or_none(request)
        if fault is not None:
            return fault
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        missing = [name for name in required if not form.get(name)]
        if missing:
            return _error(400, 21604 if missing[0] == "To" else 21603, f"A '{missing[0]}' parameter is required.")
        return None

    async def _create_message(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request, ("To", "From", "Body"))
        if refusal is not None:
            return refusal
        form = await request.post()
        message = {"sid": f"SM{next(self._numbers):032x}", **{key: form[key] for key in form}}
        self.messages.append(message)
        return web.json_response(
            {"sid": message["sid"], "account_sid": self.account_sid, "to": form["To"], "from": form["From"],
             "body": form["Body"], "status": "queued", "num_segments": "1", "direction": "outbound-api"},
            status=201,
        )

    async def _create_call(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request, ("To", "From", "Url"))
        if refusal is not None:
            return refusal
        form = await request.post()
        call = {"sid": f"CA{next(self._numbers):032x}", **{key: form[key] for key in form},
                "StatusCallbackEvent": form.getall("StatusCallbackEvent", [])}
        self.calls.append(call)
        return web.json_response(
            {"sid": call["sid"], "account_sid": self.account_sid, "to": form["To"], "from": form["From"],
             "status": "queued", "direction": "outbound-api"},
            status=201,
        )


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status}, status=status)
