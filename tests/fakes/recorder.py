"""A tiny HTTP provider for process-level tests, and the channel that sends to it.

``Recorder`` is an aiohttp server on 127.0.0.1 (an ephemeral port) that keeps every JSON body
POSTed to ``/send`` in ``received`` and answers 200 ``{"id": "<provider id>"}``. Use it as an
async context manager; ``url`` is the full ``/send`` address.

``RecorderChannel`` is a ``BaseChannel`` that POSTs ``{"notification_id", "incident_id"}`` (and
the worker's ``label`` when given) to a recorder, then waits ``delay`` seconds before answering
the dispatcher, so a worker killed during that wait has sent rows it never recorded: exactly the
"in flight" rows the outbox documents as possibly sent twice.
"""
from __future__ import annotations

import asyncio
import itertools

import aiohttp
from aiohttp import web

from channels.base import BaseChannel
from channels.types import ChannelDeliveryResult, NotificationPayload


class Recorder:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        provider_id = f"rec-{next(self._ids)}"
        self.received.append(body)
        return web.json_response({"id": provider_id})

    async def start(self) -> Recorder:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/send"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Recorder:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    def notification_ids(self) -> list[int]:
        return [body["notification_id"] for body in self.received]


class RecorderChannel(BaseChannel):
    def __init__(self, name: str, url: str, delay: float = 0.0, label: str | None = None):
        self.name = name
        self.url = url
        self.delay = delay
        self.label = label
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = {"notification_id": payload.notification_id, "incident_id": payload.incident_id}
        if self.label is not None:
            body["worker"] = self.label
        async with self._session.post(self.url, json=body, raise_for_status=True) as response:
            answer = await response.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        return ChannelDeliveryResult.sent(answer["id"])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
