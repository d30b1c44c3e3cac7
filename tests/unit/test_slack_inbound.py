"""Slack requests checked before Bolt reads them: the v0 signature on a fixed clock, then the
payload's shape."""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from bot.slack.inbound import payload_problem, signature_problem

SECRET = "signing-secret"
NOW = 1_800_000_000.0
BODY = b"payload=%7B%7D"


def _signature(timestamp: str, body: bytes = BODY) -> str:
    return "v0=" + hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def test_a_recent_signature_is_accepted_within_five_minutes_either_way():
    for stamp in ("1800000000", "1799999700", "1800000300"):
        assert signature_problem(SECRET, BODY, stamp, _signature(stamp), NOW) is None


@pytest.mark.parametrize(
    "timestamp, signature, problem",
    [
        (None, "v0=00", "no Slack signature"),
        ("1800000000", None, "no Slack signature"),
        ("", "v0=00", "no Slack signature"),
        ("abc", "v0=00", "malformed Slack request timestamp"),
        ("1e9", "v0=00", "malformed Slack request timestamp"),
        ("-1", "v0=00", "malformed Slack request timestamp"),
        ("١٨٠٠٠٠٠٠٠٠", "v0=00", "malformed Slack request timestamp"),
        ("9" * 5000, "v0=00", "malformed Slack request timestamp"),
        ("1799999699", None, "no Slack signature"),
        ("1799999699", _signature("1799999699"), "stale Slack request timestamp"),
        ("1800000000", _signature("1800000001"), "invalid Slack signature"),
        ("1800000000", "v0=ünicode", "invalid Slack signature"),
    ],
)
def test_what_is_not_a_recent_slack_signature(timestamp, signature, problem):
    assert signature_problem(SECRET, BODY, timestamp, signature, NOW) == problem


def test_the_signature_covers_the_raw_bytes():
    stamp = "1800000000"
    assert signature_problem(SECRET, b"\xff\xfe", stamp, _signature(stamp, b"\xff\xfe"), NOW) is None
    assert signature_problem(SECRET, b"\xff\xff", stamp, _signature(stamp, b"\xff\xfe"), NOW) == "invalid Slack signature"


@pytest.mark.parametrize(
    "text, content_type, problem",
    [
        ('{"type": "event_callback", "event": {"type": "app_uninstalled"}}', "application/json", None),
        ("command=%2Fincident&text=list", "application/x-www-form-urlencoded", None),
        ("payload=%5B%5D", None, "the payload is not a JSON object"),
        ("payload=%7B", None, "the payload is not valid JSON"),
        ("[" * 5000 + "]" * 5000, "application/json", "the payload is not valid JSON"),
        ('{"type": "event_callback", "event": "x"}', "application/json", "event must be an object"),
        ('{"type": "block_actions", "actions": [{}], "user": {"id": "U1"}, "team": null}', "application/json", None),
    ],
)
def test_payloads_bolt_cannot_read_are_named(text, content_type, problem):
    assert payload_problem(text, content_type) == problem


@pytest.mark.parametrize("response_url", ["not a url", "ftp://hooks.slack.example/x", "", "https://", 42])
def test_a_response_url_bolt_could_not_post_to_is_named(response_url):
    text = urlencode({"command": "/incident", "response_url": response_url})
    assert payload_problem(text, "application/x-www-form-urlencoded") == "response_url must be an http(s) URL"
    payload = json.dumps({"type": "block_actions", "actions": [{}], "user": {"id": "U1"}, "response_url": response_url})
    assert payload_problem(urlencode({"payload": payload}), "application/x-www-form-urlencoded") == (
        "response_url must be an http(s) URL"
    )


def test_a_real_response_url_is_accepted():
    text = urlencode({"command": "/incident", "response_url": "https://hooks.slack.com/commands/T1/1/abc"})
    assert payload_problem(text, "application/x-www-form-urlencoded") is None
