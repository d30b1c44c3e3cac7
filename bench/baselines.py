"""The baselines Ackbot's Slack endpoint is compared with, each in a process of its own, serving
``POST /slack/events`` on 127.0.0.1 and printing ``READY <port>``:

- ``bolt``: a bare slack-bolt ``AsyncApp`` whose ``acknowledge`` action only acks, mounted in an
  aiohttp application through ``slack_bolt.adapter.aiohttp`` (as Ackbot mounts its own). It has
  a bot token and asks the (fake) Slack API ``auth.test`` once, as a single-workspace app does.
- ``bare``: a plain aiohttp handler that checks the v0 signature and its 5-minute window, and
  answers 200.

    python -m bench.baselines bolt --signing-secret S --slack-api-url URL
    python -m bench.baselines bare --signing-secret S
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time

from aiohttp import web

from bench.fake_providers import serve


def bolt_app(signing_secret: str, slack_api_url: str, token: str) -> web.Application:
    # Imported here so the bare baseline's process does not load Bolt at all.
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(signing_secret=signing_secret, client=AsyncWebClient(token=token, base_url=slack_api_url))

    @bolt.action("acknowledge")
    async def acknowledge(ack):
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


def bare_app(signing_secret: str) -> web.Application:
    secret = signing_secret.encode()

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return web.Response(status=401)
        expected = "v0=" + hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Slack-Signature", "")):
            return web.Response(status=401)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["bolt", "bare"])
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--slack-api-url", default="")
    parser.add_argument("--token", default="xoxb-bench-bot-token")
    args = parser.parse_args()
    if args.kind == "bolt":
        app = bolt_app(args.signing_secret, args.slack_api_url.rstrip("/") + "/", args.token)
    else:
        app = bare_app(args.signing_secret)
    try:
        asyncio.run(serve(app))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
