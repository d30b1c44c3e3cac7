"""The ``/incident`` slash command: the shared grammar, answered ephemerally.

``help`` and ``link`` work for anyone; everything else needs a linked person. ``status`` and
``list`` answer in a code block (the delivery grid is a table).
"""
from __future__ import annotations

from bot import commands
from bot.actions import run_command
from bot.calendar_feed import feed_url
from bot.slack.surface import SlackSurface, code_block, reply
from channels.slack_blocks import escape
from incidents.service import Actor
from storage.enums import Channel

_TABLES = (commands.STATUS, commands.LIST, commands.HELP, commands.ONCALL)


def register(bolt, surface: SlackSurface) -> None:
    async def on_incident_command(ack, command, respond, client):
        surface.in_flight.track()
        await ack()
        await reply(respond, await answer(surface, command, client))

    bolt.command("/incident")(on_incident_command)


async def answer(surface: SlackSurface, command: dict, client) -> str:
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
    if parsed.verb == commands.CALENDAR:
        url = feed_url(surface.public_url, await surface.service.personal_calendar_link(user.id))
        return (
            f"<{url}|Your on-call calendar>: subscribe to it by URL in Google Calendar or Outlook. Keep it to"
            " yourself; asking again gives a new link and stops this one."
        )
    text = await run_command(surface.service, parsed, Actor(user.name, Channel.SLACK, user.id))
    return code_block(text) if parsed.verb in _TABLES else escape(text)


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


async def link_state(surface: SlackSurface, command: dict, client) -> str:
    """Whether the Slack user is linked (linking them by email when it matches), and how to link."""
    user = await surface.identity.user_for(client, command.get("team_id"), command.get("user_id", ""))
    if user is None:
        return surface.not_linked()
    email = f" ({escape(user.email)})" if user.email else ""
    return f"Your Slack account is linked to Ackbot user *{escape(user.name)}*{email}."
