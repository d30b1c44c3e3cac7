"""What the Slack handlers share: the incident service, identities, the work still running after
Slack got its answer, and the ephemeral reply."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession

from bot.slack.identity import SlackIdentity
from channels.slack_blocks import escape
from incidents.push_links import SubscribeLinks
from incidents.service import IncidentService
from incidents.web_sessions import WebSessions

log = logging.getLogger("ackbot.slack")

FOLLOW_UP_CONCURRENCY = 16


class InFlight:
    """Handler work that goes on after the HTTP answer (Slack wants one within 3 seconds), each
    piece a task of its own: the listener acks and hands the rest to ``start``, so Bolt answers
    as soon as the listener returns. At most ``concurrency`` pieces run at a time, the rest wait
    their turn: in a burst of clicks the answers Slack waits for come first, the follow-ups
    (through the response_url, good for 30 minutes) after. Shutdown waits for the work; so do
    tests, instead of sleeping."""

    def __init__(self, concurrency: int = FOLLOW_UP_CONCURRENCY) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._turns = asyncio.Semaphore(concurrency)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the answer; a failure is logged (without the request), not raised."""
        task = asyncio.create_task(self._in_turn(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until the tracked work is done (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _in_turn(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._turns:
            try:
                await work
            except Exception as error:
                log.error("a Slack request failed: %s", type(error).__name__, exc_info=error)


@dataclass
class SlackSurface:
    service: IncidentService
    identity: SlackIdentity
    link_url: str
    web: WebSessions
    push: SubscribeLinks | None = None
    in_flight: InFlight = field(default_factory=InFlight)
    public_url: str = ""

    def not_linked(self) -> str:
        return (
            "I don't know who you are in Ackbot yet: the email of your Slack account matches no Ackbot user.\n"
            f"<{self.link_url}|Link your account> by signing in with Slack, or ask an Ackbot admin to add"
            " your Slack email to the people file."
        )


class SessionRespond:
    """``respond`` for a request's response_url, posted over Ackbot's shared HTTP session (what
    Bolt injects opens a new session, so a new connection, for every answer); the part of Bolt's
    ``respond`` signature Ackbot uses. An answer other than 2xx raises ``ClientResponseError``."""

    def __init__(self, response_url: str, session: ClientSession):
        self.response_url = response_url
        self.session = session

    async def __call__(
        self, text: str = "", blocks: list[dict] | None = None, response_type: str | None = None,
        replace_original: bool | None = None,
    ) -> None:
        message: dict[str, Any] = {"text": text}
        if blocks is not None:
            message["blocks"] = blocks
        if response_type is not None:
            message["response_type"] = response_type
        if replace_original is not None:
            message["replace_original"] = replace_original
        async with self.session.post(self.response_url, json=message, raise_for_status=True) as answer:
            await answer.read()


def code_block(text: str) -> str:
    return f"```{escape(text)[:38_000]}```"


async def reply(respond, mrkdwn: str, blocks: list[dict] | None = None) -> None:
    """An ephemeral answer through the request's response_url (``blocks``, when given, with
    ``mrkdwn`` as their fallback text); a failure is logged, not raised."""
    try:
        await respond(text=mrkdwn, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception as error:  # the response_url may have expired; nothing else to tell
        log.warning("Slack reply failed: %s", type(error).__name__)
