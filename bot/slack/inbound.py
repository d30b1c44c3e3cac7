"""A request to ``POST /slack/events``, checked before Bolt reads any of it. Pure.

First the v0 signature: HMAC-SHA256 with the signing secret over ``v0:<timestamp>:<raw body>``,
the timestamp whole seconds within 5 minutes of now. Only then is the body read, as Bolt reads
it (JSON, or a form whose ``payload`` field is JSON, or a plain form); what is not an object, or
has the wrong shape where Bolt and the handlers look (an interaction's ``actions``, ``user`` and
``team``, an event's ``event``), is refused with the reason instead of failing inside Bolt.
"""
from __future__ import annotations

import hashlib
import hmac

from slack_bolt.request.internals import parse_body

from incidents.intake.fields import is_web_url

MAX_AGE_SECONDS = 300
_MAX_TIMESTAMP_DIGITS = 12


def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float) -> str | None:
    """None when Slack signed ``body`` at ``timestamp`` (epoch seconds) recently, else why not."""
    if not timestamp or not signature:
        return "no Slack signature"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return "malformed Slack request timestamp"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale Slack request timestamp"
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "replace")):
        return "invalid Slack signature"
    return None


def payload_problem(text: str, content_type: str | None) -> str | None:
    """None when Bolt can read ``text`` (the decoded body) as a request, else what is wrong."""
    try:
        payload = parse_body(text, content_type)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        return "the payload is not valid JSON"
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    return shape_problem(payload)


def shape_problem(payload: dict) -> str | None:
    """What is wrong with the fields Bolt's listeners and Ackbot's handlers rely on, if anything
    (Bolt itself copes with the rest, or fails in a way ``routes`` answers 400 to)."""
    if payload.get("type") == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(action, dict) for action in actions):
            return "actions must be a list of objects"
        if not isinstance(payload.get("user"), dict):
            return "user must be an object"
        if payload.get("team") is not None and not isinstance(payload["team"], dict):
            return "team must be an object"
        ids = (payload["user"].get("id"), payload["user"].get("team_id"), (payload.get("team") or {}).get("id"))
        if not isinstance(ids[0], str) or not all(isinstance(value, str | None) for value in ids[1:]):
            return "user and team ids must be text"
    if payload.get("type") == "event_callback" and not isinstance(payload.get("event"), dict):
        return "event must be an object"
    # Bolt answers through it (even to say the workspace is not installed): not a URL, it fails.
    response_url = payload.get("response_url")
    if response_url is not None and not (isinstance(response_url, str) and is_web_url(response_url)):
        return "response_url must be an http(s) URL"
    return None
