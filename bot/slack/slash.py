"""The ``/incident`` slash command: the shared grammar, answered ephemerally.

``help`` and ``link`` work for anyone; everything else needs a linked person. ``status`` and
``list`` answer with Block Kit (``bot.slack.status_blocks``), times in the asker's zone; ``help``
in a code block.
"""
from __future__ import annotations

from bot import commands
from bot.actions import run_command
from bot.calendar_feed import feed_url
from bot.render import not_found
from bot.slack.status_blocks import list_message, status_message
from bot.slack.surface import SlackSurface, code_block, reply
from channels.slack_blocks import escape
from incidents.service import Actor, IncidentNotFound
from storage.enums import Channel

Answer = str | tuple[str, list[dict]]


def register(bolt, surface: SlackSurface) -> None:
    async def on_incident_command(ack, command, respond, client):
        await ack()
        surface.in_flight.start(answer_and_reply(surface, command, respond, client))

    bolt.command("/incident")(on_incident_command)


async def answer_and_reply(surface: SlackSurface, command: dict, respond, client) -> None:
    answered = await answer(surface, command, client)
    if isinstance(answered, str):
        await reply(respond, answered)
    else:
        await reply(respond, *answered)


async def answer(surface: SlackSurface, command: dict, client) -> Answer:
    """mrkdwn text, or (fallback text, blocks)."""
    parsed = commands.parse_command(command.get("text") or "")
    if parsed.verb == commands.HELP:
        return code_block(commands.help_text(parsed))
    if parsed.verb == commands.LINK:
        return await link_state(surface, command, client)
    user = await surface.identity.user_for(client, command.get("team_id"), command.get("user_id", ""))
    if user is None:
        return surface.not_linked()
    if parsed.verb == commands.PUSH:
        return await push_link(surface, user)
    if parsed.verb == commands.STATUS:
        assert parsed.number is not None  # the parser requires a number for status
        try:
            return status_message(await surface.service.status_view(parsed.number, user.time_zone))
        except IncidentNotFound as error:
            return escape(not_found(error))
    if parsed.verb == commands.LIST:
        return list_message(await surface.service.list_view(user.time_zone))
    if parsed.verb == commands.WEB:
        return await web_link(surface, user)
    if parsed.verb == commands.CALENDAR:
        url = feed_url(surface.public_url, await surface.service.personal_calendar_link(user.id))
        return (
            f"<{url}|Your on-call calendar>: subscribe to it by URL in Google Calendar or Outlook. Keep it to"
            " yourself; asking again gives a new link and stops this one."
        )
    text = await run_command(surface.service, parsed, Actor(user.name, Channel.SLACK, user.id))
    return code_block(text) if parsed.verb == commands.ONCALL else escape(text)


async def push_link(surface: SlackSurface, user) -> str:
    """A one-time link to turn on push notifications on the device it is opened on."""
    if surface.push is None:
        return "Push notifications are not switched on in this Ackbot."
    now = surface.service.clock()
    url = await surface.push.issue(user.id, now)
    expires = now + surface.push.ttl
    return (
        f"<{url}|Turn on push notifications> — open it on the phone or laptop that should ring. It works once,"
        f" until {expires:%Y-%m-%d %H:%M} UTC."
    )


async def web_link(surface: SlackSurface, user) -> str:
    """A one-time link that signs the person in to the web view."""
    url = await surface.web.issue_link_for_user(user.id)
    minutes = round(surface.web.link_ttl.total_seconds() / 60)
    return f"<{url}|Open Ackbot's web view> — the link signs you in once, within {minutes} minutes. Keep it to yourself."


async def link_state(surface: SlackSurface, command: dict, client) -> str:
    """Whether the Slack user is linked (linking them by email when it matches), and how to link."""
    user = await surface.identity.user_for(client, command.get("team_id"), command.get("user_id", ""))
    if user is None:
        return surface.not_linked()
    email = f" ({escape(user.email)})" if user.email else ""
    return f"Your Slack account is linked to Ackbot user *{escape(user.name)}*{email}."
