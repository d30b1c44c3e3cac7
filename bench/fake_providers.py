"""Lean fake providers for the benchmarks, each run in a process of its own so it takes no time
from the event loop being measured: ``python -m bench.fake_providers twilio|slack``.

They answer as the real APIs do as far as Ackbot's clients look (Twilio: 201 with a message SID;
Slack: ``{"ok": true, ...}``) and count what they received. Unlike ``tests/fakes`` they keep no
request bodies, so they stay fast for tens of thousands of requests.

- twilio: ``POST /2010-04-01/Accounts/{sid}/Messages.json``; records the arrival time
  (``time.time()``) of the first message about each incident, the number read from the body
  (``CRITICAL #42 ...``).
- slack: the Web API methods Ackbot and Bolt call, and ``POST /response/{name}`` for
  response_url answers.

Both serve ``GET /_bench/stats`` (JSON) and print ``READY <port>`` once listening on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import time
from collections import Counter

from aiohttp import web

_INCIDENT_NUMBER = re.compile(r"#(\d+)")


class FakeTwilio:
    def __init__(self):
        self.messages = 0
        self.first_arrival: dict[int, float] = {}
        self._sids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message)
        app.router.add_get("/_bench/stats", self.stats)
        app.router.add_post("/_bench/reset", self.reset)

    async def create_message(self, request: web.Request) -> web.Response:
        arrived = time.time()
        form = await request.post()
        found = _INCIDENT_NUMBER.search(form.get("Body", ""))
        if found:
            number = int(found.group(1))
            self.first_arrival.setdefault(number, arrived)
        self.messages += 1
        sid = f"SM{next(self._sids):032x}"
        return web.json_response(
            {"sid": sid, "account_sid": request.match_info["sid"], "to": form.get("To"), "from": form.get("From"),
             "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api"},
            status=201,
        )

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"messages": self.messages, "first_arrival": self.first_arrival})

    async def reset(self, request: web.Request) -> web.Response:
        self.__init__()
        return web.json_response({"ok": True})


class FakeSlack:
    def __init__(self):
        self.calls: Counter = Counter()
        self._ts = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/_bench/stats", self.stats)
        app.router.add_post("/response/{name}", self.response_url)
        app.router.add_post("/{method}", self.api)

    async def response_url(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls["response_url"] += 1
        return web.Response(text="ok")

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        arguments = dict(request.query)
        if request.content_type == "application/x-www-form-urlencoded":
            arguments.update(await request.post())
        elif request.content_type == "application/json":
            arguments.update(await request.json())
        ts = f"{1_800_000_000 + next(self._ts)}.000100"
        answers = {
            "auth.test": lambda: {"team_id": "T1", "team": "Acme", "user_id": "UBOT", "bot_id": "B1", "user": "ackbot",
                                  "url": "https://acme.slack.test/", "is_enterprise_install": False},
            "conversations.open": lambda: {"channel": {"id": f"D{arguments.get('users', '')}"}},
            "chat.postMessage": lambda: {"channel": arguments.get("channel"), "ts": ts, "message": {"ts": ts}},
            "chat.update": lambda: {"channel": arguments.get("channel"), "ts": arguments.get("ts")},
            "chat.postEphemeral": lambda: {"message_ts": ts},
            "users.info": lambda: {"user": {"id": arguments.get("user"), "team_id": "T1", "name": "someone",
                                            "profile": {"real_name": "Someone"}}},
        }
        answer = answers.get(method)
        if answer is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response({"ok": True, **answer()})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.calls))


def app_with(routes) -> web.Application:
    app = web.Application()
    routes(app)
    return app


async def serve(app: web.Application, port: int = 0) -> None:
    """Serve on 127.0.0.1 (``port`` 0: any free one), print READY <port>, run until killed."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("provider", choices=["twilio", "slack"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeTwilio() if args.provider == "twilio" else FakeSlack()
    try:
        asyncio.run(serve(app_with(fake.routes), args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
