"""Slack retries and replays run nothing twice.

Slack retries an event it thinks went unanswered (``X-Slack-Retry-Num``), and a captured request
can be replayed, signature and all, within the 5-minute window. Each interaction has an identity
(a click: the user and its ``action_ts``; a command: its ``trigger_id``; an event: its
``event_id``); one seen before in this process gets a plain 200 and nothing runs. Across
processes the incident service is the backstop: acknowledging twice changes nothing.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse

# Longer than Slack's signature window, so a replay cannot outlive its memory.
REMEMBER_SECONDS = 600.0
# About 170 interactions a second for the whole window; past that the oldest are forgotten first.
MOST_REMEMBERED = 100_000


def interaction_key(body: dict) -> str | None:
    if body.get("type") == "block_actions":
        first = (body.get("actions") or [{}])[0]
        return f"action:{(body.get('user') or {}).get('id')}:{first.get('action_id')}:{first.get('action_ts')}"
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    return None


class ReplayGuard(AsyncMiddleware):
    """Bolt middleware: a repeat gets an empty 200, anything else runs. A class rather than a
    function: Bolt calls a function middleware through its argument injection, which builds every
    argument any listener could ask for on every request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, remember: float = REMEMBER_SECONDS,
                 most: int = MOST_REMEMBERED):
        self._clock = clock
        self._remember = remember
        self._most = most
        self._seen: OrderedDict[str, float] = OrderedDict()  # oldest first: the clock only goes forward

    def first_time(self, key: str) -> bool:
        """Whether ``key`` is new; it is remembered from now on (for ``remember`` seconds, or until
        ``most`` newer keys are remembered)."""
        now = self._clock()
        while self._seen and now - next(iter(self._seen.values())) >= self._remember:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        if len(self._seen) >= self._most:
            self._seen.popitem(last=False)
        self._seen[key] = now
        return True

    async def async_process(self, *, req, resp, next):
        key = interaction_key(req.body)
        if key is not None and not self.first_time(key):
            return BoltResponse(status=200, body="")
        return await next()
