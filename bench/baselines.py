"""The baselines Ackbot's Slack endpoint is compared with, each in a process of its own, serving
``POST /slack/events`` on 127.0.0.1 and printing ``READY <port>``:

- ``bolt``: a bare slack-bolt ``AsyncApp`` whose ``acknowledge`` action only acks, mounted in an
  aiohttp application through ``slack_bolt.adapter.aiohttp`` (as Ackbot mounts its own). It has
  a bot token and asks the (fake) Slack API ``auth.test`` once, as a single-workspace app does.
- ``bare``: a plain aiohttp handler that checks the v0 signature and its 5-minute window, and
  answers 200.
- ``teams``: a plain aiohttp handler serving ``POST /api/messages`` that validates the Bot
  Framework JWT as a bot must (PyJWT, RS256 with the keys from the OpenID metadata, fetched once:
  issuer, audience, expiry with 5 minutes' skew, the key's msteams endorsement, the
  ``serviceurl`` claim against the activity's serviceUrl) and answers an ``Action.Execute`` with
  a small card.

    python -m bench.baselines bolt --signing-secret S --slack-api-url URL
    python -m bench.baselines bare --signing-secret S
    python -m bench.baselines teams --metadata-url URL --app-id ID
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


async def teams_app(metadata_url: str, app_id: str) -> web.Application:
    import jwt
    from aiohttp import ClientSession

    async with ClientSession() as session:
        async with session.get(metadata_url) as response:
            metadata = await response.json()
        async with session.get(metadata["jwks_uri"]) as response:
            keys = (await response.json())["keys"]
    signing = {key["kid"]: (jwt.PyJWK(key).key, key.get("endorsements", [])) for key in keys}
    card = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive",
            "value": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "ok"}]}}

    async def messages(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            return web.Response(status=401)
        try:
            found = signing.get(jwt.get_unverified_header(token).get("kid"))
            if found is None or "msteams" not in found[1]:
                return web.Response(status=401)
            claims = jwt.decode(token, found[0], algorithms=["RS256"], audience=app_id, issuer=metadata["issuer"],
                                leeway=300, options={"require": ["exp", "aud", "iss"]})
        except jwt.PyJWTError:
            return web.Response(status=401)
        activity = await request.json()
        if claims.get("serviceurl") != activity.get("serviceUrl"):
            return web.Response(status=401)
        return web.json_response(card)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["bolt", "bare", "teams"])
    parser.add_argument("--metadata-url", default="")
    parser.add_argument("--app-id", default="")
    parser.add_argument("--signing-secret", default="")
    parser.add_argument("--slack-api-url", default="")
    parser.add_argument("--token", default="xoxb-bench-bot-token")
    args = parser.parse_args()
    async def run() -> None:
        if args.kind == "teams":
            app = await teams_app(args.metadata_url, args.app_id)
        elif args.kind == "bolt":
            app = bolt_app(args.signing_secret, args.slack_api_url.rstrip("/") + "/", args.token)
        else:
            app = bare_app(args.signing_secret)
        await serve(app)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
