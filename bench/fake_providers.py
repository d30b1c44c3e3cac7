"""Lean fake providers for the benchmarks, each run in a process of its own so it takes no time
from the event loop being measured: ``python -m bench.fake_providers twilio|slack|teams``.

They answer as the real APIs do as far as Ackbot's clients look (Twilio: 201 with a message SID;
Slack: ``{"ok": true, ...}``) and count what they received. Unlike ``tests/fakes`` they keep no
request bodies, so they stay fast for tens of thousands of requests.

- twilio: ``POST /2010-04-01/Accounts/{sid}/Messages.json``; records the arrival time
  (``time.time()``) of the first message about each incident, the number read from the body
  (``CRITICAL #42 ...``). Served by ``TwilioProtocol`` (httptools), not aiohttp's web server,
  which cost the fake as much CPU a message as PostgreSQL spent on the page.
- slack: the Web API methods Ackbot and Bolt call, and ``POST /response/{name}`` for
  response_url answers.
- teams (``--key PEM --app-id ID``): the Bot Framework's OpenID metadata and signing keys (the
  public half of the PEM key, endorsed for msteams), its token endpoint, and the Bot Connector's
  activity and member routes (every member is Alice, alice@example.com).

Each serves ``GET /_bench/stats`` (JSON) and prints ``READY <port>`` once listening on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import time
from collections import Counter

import httptools
from aiohttp import web

_ENCODED_INCIDENT_NUMBER = re.compile(rb"(?:^|&)Body=[^&]*?%23(\d+)")  # "#" is "%23" in the form
_MESSAGES_PATH = re.compile(rb"/2010-04-01/Accounts/[^/]+/Messages\.json")
_REASONS = {200: b"OK", 201: b"Created", 404: b"Not Found"}
TEAMS_ISSUER = "https://api.botframework.com"
TEAMS_KEY_ID = "bench-key-1"


class FakeTwilio:
    """Counts the messages, and when the first about each incident arrived; spoken to through
    ``TwilioProtocol``."""

    def __init__(self):
        self.messages = 0
        self.first_arrival: dict[int, float] = {}
        self._sids = itertools.count(1)

    def create_message(self, body: bytes) -> bytes:
        arrived = time.time()
        found = _ENCODED_INCIDENT_NUMBER.search(body)
        if found:
            self.first_arrival.setdefault(int(found.group(1)), arrived)
        self.messages += 1
        return b'{"sid": "SM%032x", "status": "queued", "num_segments": "1", "direction": "outbound-api"}' % next(self._sids)

    def stats(self) -> bytes:
        return json.dumps({"messages": self.messages, "first_arrival": self.first_arrival}).encode()

    def answer(self, method: bytes, path: bytes, body: bytes) -> tuple[int, bytes]:
        """The status and JSON body for one request."""
        if method == b"POST" and _MESSAGES_PATH.fullmatch(path):
            return 201, self.create_message(body)
        if method == b"GET" and path == b"/_bench/stats":
            return 200, self.stats()
        if method == b"POST" and path == b"/_bench/reset":
            self.__init__()
            return 200, b'{"ok": true}'
        return 404, b'{"code": 20404, "message": "not found"}'


class TwilioProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, parsed by httptools and answered without aiohttp's server.

    The fake shares these 2 cores with the workers it measures, and Twilio's CPU is not ours to
    spend: through aiohttp's web server a message cost the fake about 0.23 ms of CPU, as much as
    PostgreSQL spent on the page. The form is not decoded; only the incident number is read.
    """

    def __init__(self, fake: FakeTwilio):
        self._fake = fake
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        path = self._url.split(b"?", 1)[0]
        status, body = self._fake.answer(self._parser.get_method(), path, b"".join(self._body))
        self._url, self._body = b"", []
        keep_alive = self._parser.should_keep_alive()
        self._transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status, _REASONS[status], len(body), b"" if keep_alive else b"Connection: close\r\n", body)
        )
        if not keep_alive:
            self._transport.close()


async def serve_twilio(fake: FakeTwilio, port: int = 0) -> None:
    """Serve ``fake`` on 127.0.0.1 (``port`` 0: any free one), print READY <port>, run until killed."""
    server = await asyncio.get_running_loop().create_server(lambda: TwilioProtocol(fake), "127.0.0.1", port, backlog=1024)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


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


class FakeTeams:
    def __init__(self, public_jwk: dict):
        self.public_jwk = public_jwk
        self.calls: Counter = Counter()
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/_bench/stats", self.stats)
        app.router.add_get("/v1/.well-known/openidconfiguration", self.metadata)
        app.router.add_get("/keys", self.keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_post("/amer/v3/conversations/{conversation}/activities", self.post_activity)
        app.router.add_post("/amer/v3/conversations/{conversation}/activities/{reply_to}", self.post_activity)
        app.router.add_put("/amer/v3/conversations/{conversation}/activities/{activity}", self.put_activity)
        app.router.add_get("/amer/v3/conversations/{conversation}/members/{member}", self.member)

    async def metadata(self, request: web.Request) -> web.Response:
        self.calls["metadata"] += 1
        return web.json_response({
            "issuer": TEAMS_ISSUER, "jwks_uri": f"{request.scheme}://{request.host}/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def keys(self, request: web.Request) -> web.Response:
        self.calls["keys"] += 1
        return web.json_response({"keys": [self.public_jwk]})

    async def token(self, request: web.Request) -> web.Response:
        self.calls["token"] += 1
        await request.read()
        return web.json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": "bench-bot-token"})

    async def post_activity(self, request: web.Request) -> web.Response:
        self.calls["post_activity"] += 1
        await request.read()
        return web.json_response({"id": f"1:{next(self._ids)}"}, status=201)

    async def put_activity(self, request: web.Request) -> web.Response:
        self.calls["put_activity"] += 1
        await request.read()
        return web.json_response({"id": request.match_info["activity"]})

    async def member(self, request: web.Request) -> web.Response:
        self.calls["member"] += 1
        return web.json_response({
            "id": request.match_info["member"], "name": "Alice", "aadObjectId": "aad-alice",
            "email": "alice@example.com", "userPrincipalName": "alice@example.com", "tenantId": "tenant-1",
        })

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.calls))


def teams_public_jwk(pem_path: str) -> dict:
    """The JWK of the public half of the PEM private key at ``pem_path``, as the Bot Framework
    publishes its keys."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from jwt.algorithms import RSAAlgorithm

    with open(pem_path, "rb") as pem:
        private = load_pem_private_key(pem.read(), password=None)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
    public.update({"kid": TEAMS_KEY_ID, "use": "sig", "endorsements": ["msteams"]})
    return public


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
    parser.add_argument("provider", choices=["twilio", "slack", "teams"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", help="teams: the PEM private key whose public half signs tokens")
    args = parser.parse_args()
    web_fakes = {"slack": FakeSlack, "teams": lambda: FakeTeams(teams_public_jwk(args.key))}
    try:
        if args.provider == "twilio":
            asyncio.run(serve_twilio(FakeTwilio(), args.port))
        else:
            asyncio.run(serve(app_with(web_fakes[args.provider]().routes), args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
