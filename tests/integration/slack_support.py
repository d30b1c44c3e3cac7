"""Helpers for driving the real application as Slack would: signed requests (v0 HMAC-SHA256 over
``v0:<timestamp>:<body>`` with the signing secret), click, slash command and event bodies."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from app import Secret, channel_configs
from channels.registry import build_channels
from storage.enums import Channel
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_settings(settings, fake):
    return settings.replace(
        slack_client_id=CLIENT_ID, slack_client_secret=Secret(CLIENT_SECRET),
        slack_signing_secret=Secret(SIGNING_SECRET), slack_api_url=fake.url,
    )


def slack_channel(settings, http):
    """The Slack channel the application builds from ``settings``, on the session ``http``."""
    return build_channels(channel_configs(settings), http)[Channel.SLACK]


def signed_headers(body: str | bytes, timestamp: int | str | None = None, content_type="application/x-www-form-urlencoded") -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def click(action_id: str, number: int, response_url: str, user: str = "UALICE", action_ts: str = "1800000100.000200") -> str:
    payload = {
        "type": "block_actions", "api_app_id": "A1", "token": "unused-legacy-token",
        "team": {"id": "T1", "domain": "acme"}, "user": {"id": user, "team_id": "T1", "username": user.lower()},
        "trigger_id": f"trigger-{action_ts}", "response_url": response_url,
        "container": {"type": "message", "channel_id": f"D{user}", "message_ts": "1800000001.000100"},
        "channel": {"id": f"D{user}"},
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": f"incident-{number}", "value": str(number),
            "action_ts": action_ts,
        }],
    }
    return urlencode({"payload": json.dumps(payload)})


def slash_command(text: str, response_url: str, user: str = "UALICE", trigger_id: str = "trigger-1") -> str:
    return urlencode({
        "token": "unused-legacy-token", "team_id": "T1", "team_domain": "acme", "channel_id": f"D{user}",
        "user_id": user, "user_name": user.lower(), "command": "/incident", "text": text, "api_app_id": "A1",
        "response_url": response_url, "trigger_id": trigger_id,
    })


def event(event_body: dict, event_id: str = "Ev1") -> str:
    return json.dumps({
        "token": "unused-legacy-token", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event": event_body, "event_id": event_id, "event_time": int(time.time()),
    })


async def post_signed(client, body: str, **headers):
    content_type = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    return await client.post("/slack/events", data=body, headers={**signed_headers(body, content_type=content_type), **headers})
