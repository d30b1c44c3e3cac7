"""What the Slack handlers share: the incident service, identities, the work still running after
Slack got its answer, and the ephemeral reply."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.slack.identity import SlackIdentity
from channels.slack_blocks import escape
from incidents.push_links import SubscribeLinks
from incidents.service import IncidentService
from incidents.web_sessions import WebSessions

log = logging.getLogger("ackbot.slack")


class InFlight:
    """Handler work that goes on after the HTTP answer (Slack wants one within 3 seconds).
    Shutdown waits for it; so do tests, instead of sleeping."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def track(self) -> None:
        """Count the calling task in until it finishes."""
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until the tracked work is done (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


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


def code_block(text: str) -> str:
    return f"```{escape(text)[:38_000]}```"


async def reply(respond, mrkdwn: str, blocks: list[dict] | None = None) -> None:
    """An ephemeral answer through the request's response_url (``blocks``, when given, with
    ``mrkdwn`` as their fallback text); a failure is logged, not raised."""
    try:
        await respond(text=mrkdwn, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception as error:  # the response_url may have expired; nothing else to tell
        log.warning("Slack reply failed: %s", type(error).__name__)
