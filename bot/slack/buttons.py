"""Acknowledge and Resolve clicks on incident cards.

Slack gets its answer first (``ack()``, well within its 3 seconds); then the click is carried out
for the linked person. The card itself changes for everyone through the engine's status notices;
the clicker hears back only when nothing changed, when they are not linked, or when they may not
act on the incident.
"""
from __future__ import annotations

from bot.commands import parse_number
from bot.render import action_answer, no_incident, not_involved
from bot.slack.surface import SlackSurface, reply
from channels.slack_blocks import DASHBOARD_ACTION, OPEN_ACTION, escape
from incidents.service import Actor, IncidentNotFound, NotAllowed
from storage.enums import Action, Channel


def register(bolt, surface: SlackSurface) -> None:
    async def on_incident_button(ack, body, action, respond, client):
        await ack()
        surface.in_flight.start(act(surface, body, action, respond, client))

    async def on_link_button(ack):
        await ack()

    for action_id in (Action.ACKNOWLEDGE, Action.RESOLVE):
        bolt.action(str(action_id))(on_incident_button)
    for link_action_id in (DASHBOARD_ACTION, OPEN_ACTION):
        bolt.action(link_action_id)(on_link_button)


async def act(surface: SlackSurface, body: dict, action: dict, respond, client) -> None:
    number = parse_number(str(action.get("value", "")))
    if number is None:
        await reply(respond, "That button does not name an incident; nothing was done.")
        return
    slack_user = body.get("user") or {}
    team_id = slack_user.get("team_id") or (body.get("team") or {}).get("id")
    user = await surface.identity.user_for(client, team_id, slack_user.get("id", ""))
    if user is None:
        await reply(respond, surface.not_linked())
        return
    try:
        outcome = await surface.service.act(number, Action(action["action_id"]), Actor(user.name, Channel.SLACK, user.id))
    except IncidentNotFound:
        await reply(respond, no_incident(number))
        return
    except NotAllowed:
        await reply(respond, escape(not_involved(number)))
        return
    if not outcome.changed:
        await reply(respond, escape(action_answer(outcome)))
