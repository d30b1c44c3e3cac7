"""The base of every fake remote API: a small aiohttp server on 127.0.0.1 that records each
request and can be told to fail the next ones (timeout, 5xx, 429 with Retry-After, 4xx, or a
malformed body) before answering normally again.

Subclasses add routes in ``routes(app)``; handlers call ``await self.fault_or_none(request)``
first and return what it gives when it is not None.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict
    query: dict
    body: bytes
    form: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


@dataclass(frozen=True)
class Fault:
    """One injected failure: an HTTP ``status`` with ``body`` and ``headers``, or a
    ``delay`` before answering (longer than the client's timeout = a timeout)."""

    status: int = 500
    body: str = '{"error": "injected"}'
    headers: tuple = ()
    delay: float = 0.0
    content_type: str = "application/json"


class FakeService:
    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        """``ssl_context``: serve https with it (the ``url`` is then https://)."""
        self.requests: list[RecordedRequest] = []
        self.faults: deque[Fault] = deque()
        self.ssl_context = ssl_context
        self._server: TestServer | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    @property
    def url(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> FakeService:
        app = web.Application(middlewares=[self._record])
        self.routes(app)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server(ssl=self.ssl_context)
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.close()

    @web.middleware
    async def _record(self, request: web.Request, handler):
        body = await request.read()
        form = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = dict(await request.post())
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), dict(request.query), body, form)
        )
        return await handler(request)

    async def fault_or_none(self, request: web.Request, faults: deque[Fault] | None = None) -> web.Response | None:
        """The next injected failure's response (from ``faults``, default ``self.faults``), or
        None to answer normally."""
        faults = self.faults if faults is None else faults
        if not faults:
            return None
        fault = faults.popleft()
        if fault.delay:
            await asyncio.sleep(fault.delay)
            if fault.status == 200:
                return None
        return web.Response(
            status=fault.status, text=fault.body, headers=dict(fault.headers), content_type=fault.content_type
        )

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]
