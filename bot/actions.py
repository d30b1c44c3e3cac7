"""Carrying out a parsed command for a person, and the text answer every surface shows.

Surfaces (Slack, Teams, SMS, the CLI) parse with ``bot.commands``, identify the person, call
``run_command`` once, and render the returned text their own way. ``link``, ``push`` and
``calendar`` depend on the surface, so they are answered there (``calendar`` in Slack; elsewhere
it says where to get one).
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import commands
from bot.oncall_views import oncall_text, when
from bot.render import action_answer, incident_list, status_grid
from incidents.oncall_report import UnknownTarget
from incidents.service import Actor, IncidentNotFound, IncidentService, NotAllowed
from incidents.shift_overrides import OverrideRefused
from storage.enums import Action

CALENDAR_ELSEWHERE = "Say /incident calendar in Slack for your calendar link, or ask an admin (ackbot calendar-link)."
NOT_INVOLVED = (
    "Sorry, you can't act on #{number}: you are neither on its team nor paged for it. "
    "Ask someone on the team, or the team's lead."
)


async def run_command(service: IncidentService, command: commands.Command, actor: Actor) -> str:
    """The answer to ``command`` from ``actor`` (a known person: ``actor.user_id`` is set)."""
    assert actor.user_id is not None
    if command.verb in (commands.ACKNOWLEDGE, commands.RESOLVE):
        return await _act(service, command, actor)
    if command.verb == commands.STATUS:
        assert command.number is not None  # the parser requires a number for status
        try:
            return status_grid(await service.status(command.number))
        except IncidentNotFound as error:
            return f"There is {error}."
    if command.verb == commands.LIST:
        return incident_list(await service.list_open())
    if command.verb == commands.ONCALL:
        try:
            lines = await service.on_call(target=command.name)
        except UnknownTarget as error:
            return f"There is {error}."
        return oncall_text(lines, await service.time_zone_of(actor.user_id))
    if command.verb == commands.TAKE:
        return await _take(service, command, actor)
    if command.verb == commands.CALENDAR:
        return CALENDAR_ELSEWHERE
    if command.verb == commands.TEST:
        channels = await service.send_test(actor.user_id)
        if not channels:
            return "No channel can reach you yet: ask an admin to add your email or phone, or link Slack or Teams."
        return f"Test page on its way to: {', '.join(channel.lower() for channel in channels)}."
    return commands.help_text(command)


async def _take(service: IncidentService, command: commands.Command, actor: Actor) -> str:
    try:
        taken = await service.take_shift(actor, command.name, command.duration)
    except OverrideRefused as refusal:
        return str(refusal)
    assert actor.user_id is not None
    zone = ZoneInfo(await service.time_zone_of(actor.user_id))
    replaced = f" instead of {taken.replaced} (they are told)" if taken.replaced else ""
    return f"You are on call for {taken.schedule}{replaced} until {when(taken.end, ZoneInfo(taken.time_zone))}" + (
        f" ({when(taken.end, zone)} your time)." if zone.key != taken.time_zone else "."
    )


async def _act(service: IncidentService, command: commands.Command, actor: Actor) -> str:
    number = command.number
    if number is None:
        assert actor.user_id is not None
        number = await service.latest_page_for(actor.user_id, actor.via)
        if number is None:
            return f"No page was sent to you here yet; say {command.verb[:3]} 42 to name the incident."
    try:
        return action_answer(await service.act(number, Action(command.verb), actor))
    except IncidentNotFound as error:
        return f"There is {error}."
    except NotAllowed:
        return NOT_INVOLVED.format(number=number)
