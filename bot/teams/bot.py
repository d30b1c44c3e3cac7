"""The Teams bot: installs and uninstalls, messages (the shared command grammar), and the
Acknowledge/Resolve clicks on incident cards (``adaptiveCard/action`` invokes).

Each turn identifies the person through ``incidents.teams_connections`` and makes its one call
into ``IncidentService``; replies go back through the turn context (the Bot Connector).
"""
from __future__ import annotations

import logging
from http import HTTPStatus

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import ActivityTypes

from bot import commands
from bot.actions import run_command
from bot.render import no_incident, not_found, not_involved
from bot.teams import replies
from bot.teams.activities import (
    PERSONAL,
    TEAM_CHANNEL,
    command_text,
    conversation_scope,
    includes_bot,
    parse_card_action,
    reference_of,
    tenant_of,
)
from bot.teams.adapter import TeamsAdapter, keep_invoke_response
from bot.teams.cards import card_response, error_response, message_response, refreshed_card
from bot.teams.connector import ConnectorError
from bot.teams.signin import SignIn
from bot.teams.status_card import list_card, status_card
from incidents import push_links
from incidents.service import Actor, IncidentNotFound, IncidentService, NotAllowed
from incidents.teams_connections import TeamsIdentity
from incidents.web_sessions import WebSessions
from storage.enums import Action, Channel

log = logging.getLogger("ackbot.teams")


class TeamsBot(ActivityHandler):
    """``tenant_id``, when set, is the only Teams tenant served; ``sign_in`` runs the OAuth
    link flow when an OAuth connection is configured; ``push`` is set when push is on."""

    def __init__(self, service: IncidentService, web: WebSessions, sign_in: SignIn | None = None, tenant_id: str = "",
                 push: push_links.SubscribeLinks | None = None):
        self.service = service
        self.sign_in = sign_in
        self.tenant_id = tenant_id
        self.push = push
        self.web = web

    async def on_turn(self, turn_context: TurnContext):
        if self.tenant_id and tenant_of(turn_context.activity) != self.tenant_id:
            log.warning("ignored a Teams activity from another tenant")
            return
        if turn_context.activity.type == ActivityTypes.invoke:
            # Not through ActivityHandler, which sends the answer as an activity: a deep copy
            # of the whole card on every click.
            keep_invoke_response(turn_context, await self.on_invoke_activity(turn_context))
            return
        await super().on_turn(turn_context)

    # --- install and uninstall -----------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext):
        # Teams also sends a conversationUpdate for an install, and "add-upgrade" for a new app
        # version: only the install itself is greeted.
        await self._installed(turn_context, greet=turn_context.activity.action == "add")

    async def on_installation_update_remove(self, turn_context: TurnContext):
        await self._removed(turn_context)

    async def on_conversation_update_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if includes_bot(activity.members_added, activity):
            await self._installed(turn_context, greet=False)
        elif includes_bot(activity.members_removed, activity):
            await self._removed(turn_context)

    async def _installed(self, turn_context: TurnContext, greet: bool):
        activity = turn_context.activity
        scope = conversation_scope(activity)
        if scope == PERSONAL:
            user = await self._connect(turn_context, await _identity(turn_context))
            if greet:
                await turn_context.send_activity(replies.welcome_text(user))
        elif scope == TEAM_CHANNEL:
            team = (activity.channel_data or {}).get("team") or {}
            await self.service.teams.save_team_channel(
                activity.conversation.id, tenant_of(activity), team.get("name"), reference_of(activity)
            )
            if greet:
                await turn_context.send_activity(replies.team_welcome_text(activity.conversation.id))

    async def _removed(self, turn_context: TurnContext):
        activity = turn_context.activity
        scope = conversation_scope(activity)
        if scope == PERSONAL and activity.from_property:
            await self.service.teams.disconnect_person(activity.from_property.id)
        elif scope == TEAM_CHANNEL:
            await self.service.teams.remove_team_channel(activity.conversation.id)

    async def _connect(self, turn_context: TurnContext, identity: TeamsIdentity):
        """Link the sender's account to their Ackbot user and keep this chat's reference."""
        return await self.service.teams.connect_person(identity, reference_of(turn_context.activity))

    async def _person(self, turn_context: TurnContext):
        """The Ackbot user behind the sender; in a personal chat an unknown sender is matched
        by email on the way."""
        sender = turn_context.activity.from_property
        user = await self.service.teams.person_for(sender.aad_object_id, sender.id)
        if user is None and conversation_scope(turn_context.activity) == PERSONAL:
            user = await self._connect(turn_context, await _identity(turn_context))
        return user

    # --- messages ------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext):
        command = commands.parse_command(command_text(turn_context.activity))
        if command.verb == commands.HELP:
            await turn_context.send_activity(commands.help_text(command))
        elif command.verb == commands.PUSH:
            await self._push_link(turn_context)
        elif command.verb == commands.WEB:
            await self._web_link(turn_context)
        elif command.verb == commands.LINK:
            await self._link(turn_context)
        else:
            await self._run(turn_context, command)

    async def _run(self, turn_context: TurnContext, command: commands.Command):
        user = await self._person(turn_context)
        if user is None:
            await turn_context.send_activity(replies.NOT_LINKED)
            return
        if command.verb == commands.STATUS:
            assert command.number is not None  # the parser requires a number for status
            await turn_context.send_activity(await self._status(command.number, user.time_zone))
        elif command.verb == commands.LIST:
            view = await self.service.list_view(user.time_zone)
            await turn_context.send_activity(replies.card_message(list_card(view), "Open incidents"))
        else:
            await turn_context.send_activity(await run_command(self.service, command, Actor(user.name, Channel.TEAMS, user.id)))

    async def _status(self, number: int, time_zone: str):
        try:
            view = await self.service.status_view(number, time_zone)
        except IncidentNotFound as error:
            return not_found(error)
        return replies.card_message(status_card(view), f"#{number} {view.priority} · {view.title} [{view.status}]")

    async def _link(self, turn_context: TurnContext):
        if conversation_scope(turn_context.activity) != PERSONAL:
            await turn_context.send_activity(replies.PERSONAL_ONLY.format(verb="link"))
            return
        identity = await _identity(turn_context)
        user = await self._connect(turn_context, identity)
        if user is None:
            await turn_context.send_activity(replies.not_matched_text(identity.email))
        elif self.sign_in is not None:
            await self.sign_in.start(turn_context, user)
        else:
            await turn_context.send_activity(replies.linked_text(user))

    async def _personal_person(self, turn_context: TurnContext, verb: str):
        """The person asking in a personal chat, for answers only they may see; None (after
        saying why) elsewhere or for someone not linked."""
        if conversation_scope(turn_context.activity) != PERSONAL:
            await turn_context.send_activity(replies.PERSONAL_ONLY.format(verb=verb))
            return None
        user = await self._person(turn_context)
        if user is None:
            await turn_context.send_activity(replies.NOT_LINKED)
        return user

    async def _push_link(self, turn_context: TurnContext):
        if self.push is None:
            await turn_context.send_activity(replies.PUSH_OFF)
            return
        user = await self._personal_person(turn_context, "push")
        if user is None:
            return
        now = self.service.clock()
        url = await self.push.issue(user.id, now)
        await turn_context.send_activity(replies.push_link_text(url, now + self.push.ttl))

    async def _web_link(self, turn_context: TurnContext):
        user = await self._personal_person(turn_context, "web")
        if user is not None:
            url = await self.web.issue_link_for_user(user.id)
            await turn_context.send_activity(replies.web_link_text(url, self.web.link_ttl))

    # --- invokes -------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "adaptiveCard/action":
            return await self._card_action(turn_context)
        return await super().on_invoke_activity(turn_context)

    async def on_sign_in_invoke(self, turn_context: TurnContext):
        if self.sign_in is None:
            return await super().on_sign_in_invoke(turn_context)
        await self.sign_in.finish(turn_context)

    async def _card_action(self, turn_context: TurnContext) -> InvokeResponse:
        """Acknowledge or resolve from a card; answers with the card as the clicker should now
        see it. The other cards are replaced by the Teams channel's status notices."""
        parsed = parse_card_action(turn_context.activity.value)
        if isinstance(parsed, str):
            return error_response(HTTPStatus.BAD_REQUEST, parsed)
        verb, number = parsed
        user = await self.service.teams.person_for(
            turn_context.activity.from_property.aad_object_id, turn_context.activity.from_property.id
        )
        if user is None:
            return message_response(replies.NOT_LINKED)
        try:
            outcome, view = await self.service.act_on_card(number, Action(verb), Actor(user.name, Channel.TEAMS, user.id))
        except IncidentNotFound:
            return message_response(no_incident(number))
        except NotAllowed:
            return message_response(not_involved(number))
        return card_response(refreshed_card(view, outcome, user.time_zone, self.web.public_url))


async def _email_of(turn_context: TurnContext) -> str | None:
    """The sender's email (or UPN) from the Bot Connector's member lookup; None when it fails."""
    activity = turn_context.activity
    adapter = turn_context.adapter
    assert isinstance(adapter, TeamsAdapter)  # the only adapter the bot runs under
    try:
        member = await adapter.connector.member(activity.service_url, activity.conversation.id, activity.from_property.id)
    except ConnectorError as error:  # the lookup is optional
        log.warning("Teams member lookup failed: %s", error)
        return None
    found = member.get("email") or member.get("userPrincipalName")
    return found if isinstance(found, str) and found else None


async def _identity(turn_context: TurnContext) -> TeamsIdentity:
    sender = turn_context.activity.from_property
    return TeamsIdentity(
        teams_user_id=sender.id, tenant_id=tenant_of(turn_context.activity),
        aad_object_id=sender.aad_object_id, email=await _email_of(turn_context),
    )
