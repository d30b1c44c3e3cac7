"""Slack retries and replays run nothing twice.

Slack retries an event it thinks went unanswered (``X-Slack-Retry-Num``), and a captured request
can be replayed, signature and all, within the 5-minute window. Each interaction has an identity
(a click: the user and its ``action_ts``; a command: its ``trigger_id``; an event: its
``event_id``); one seen before in this process gets a plain 200 and nothing runs. Across
processes the incident service is the backstop: acknowledging twice changes nothing.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from slack_bolt.response import BoltResponse

# Longer than Slack's signature window, so a replay cannot outlive its memory.
REMEMBER_SECONDS = 600.0


def interaction_key(body: dict) -> str | None:
    if body.get("type") == "block_actions":
        first = (body.get("actions") or [{}])[0]
        return f"action:{(body.get('user') or {}).get('id')}:{first.get('action_id')}:{first.get('action_ts')}"
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    return None


class ReplayGuard:
    def __init__(self, clock: Callable[[], float] = time.monotonic, remember: float = REMEMBER_SECONDS):
        self._clock = clock
        self._remember = remember
        self._seen: dict[str, float] = {}

    def first_time(self, key: str) -> bool:
        """Whether ``key`` is new; it is remembered from now on."""
        now = self._clock()
        if len(self._seen) > 10_000:
            self._seen = {seen: at for seen, at in self._seen.items() if now - at < self._remember}
        at = self._seen.get(key)
        if at is not None and now - at < self._remember:
            return False
        self._seen[key] = now
        return True

    async def middleware(self, body: dict, next):
        """Bolt middleware: answer a repeat with an empty 200, run anything else."""
        key = interaction_key(body)
        if key is not None and not self.first_time(key):
            return BoltResponse(status=200, body="")
        await next()
