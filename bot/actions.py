"""Carrying out a parsed command for a person, and the text answer every surface shows.

Surfaces (Slack, Teams, SMS, the CLI) parse with ``bot.commands``, identify the person, call
``run_command`` once, and render the returned text their own way; a surface whose text must be
short (SMS) passes its own ``Rendering`` of the status grid and the help. ``link``, ``push`` and
``calendar`` depend on the surface, so they are answered there (``calendar`` in Slack; elsewhere
it says where to get one).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot import commands
from bot.oncall_views import oncall_text, when
from bot.render import (
    CALENDAR_ELSEWHERE,
    NO_CHANNEL_YET,
    action_answer,
    incident_list,
    no_page_yet,
    not_found,
    not_involved,
    sending_test_pages,
    status_grid,
)
from incidents.oncall_report import UnknownTarget
from incidents.report import IncidentReport
from incidents.service import Actor, IncidentNotFound, IncidentService, NotAllowed
from incidents.shift_overrides import OverrideRefused
from storage.enums import Action


@dataclass(frozen=True)
class Rendering:
    """How a surface shows the answers whose size depends on it: an incident's status, and the
    help (for ``help`` and for a command that was not understood)."""

    status: Callable[[IncidentReport], str]
    help: Callable[[commands.Command], str]


TEXT = Rendering(status_grid, commands.help_text)


async def run_command(service: IncidentService, command: commands.Command, actor: Actor, rendering: Rendering = TEXT) -> str:
    """The answer to ``command`` from ``actor`` (a known person: ``actor.user_id`` is set)."""
    assert actor.user_id is not None
    if command.verb in (commands.ACKNOWLEDGE, commands.RESOLVE):
        return await _act(service, command, actor)
    if command.verb == commands.STATUS:
        assert command.number is not None  # the parser requires a number for status
        try:
            return rendering.status(await service.status(command.number))
        except IncidentNotFound as error:
            return not_found(error)
    if command.verb == commands.LIST:
        return incident_list(await service.list_open())
    if command.verb == commands.ONCALL:
        try:
            lines = await service.on_call(target=command.name)
        except UnknownTarget as error:
            return not_found(error)
        return oncall_text(lines, await service.time_zone_of(actor.user_id))
    if command.verb == commands.TAKE:
        return await _take(service, command, actor)
    if command.verb == commands.CALENDAR:
        return CALENDAR_ELSEWHERE
    if command.verb == commands.TEST:
        channels = await service.send_test(actor.user_id)
        return sending_test_pages(channels) if channels else NO_CHANNEL_YET
    return rendering.help(command)


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
            return no_page_yet(command.verb)
    try:
        return action_answer(await service.act(number, Action(command.verb), actor))
    except IncidentNotFound as error:
        return not_found(error)
    except NotAllowed:
        return not_involved(number)
