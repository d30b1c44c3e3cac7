"""Reading Teams activities: scope, tenant, command text, card action values. Pure."""
from __future__ import annotations

import re

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ChannelAccount

from bot.commands import MAX_INCIDENT_NUMBER, parse_number
from storage.enums import Action

PERSONAL, TEAM_CHANNEL = "personal", "channel"
_MENTION = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)


def conversation_scope(activity: Activity) -> str | None:
    """"personal", "channel" (a team), "groupChat", or None."""
    return activity.conversation.conversation_type if activity.conversation else None


def tenant_of(activity: Activity) -> str:
    if activity.conversation and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    tenant = (activity.channel_data or {}).get("tenant") if isinstance(activity.channel_data, dict) else None
    return tenant.get("id", "") if isinstance(tenant, dict) else ""


def reference_of(activity: Activity) -> dict:
    """The serialised ConversationReference (camelCase JSON) that proactive messages go to."""
    return TurnContext.get_conversation_reference(activity).serialize()


def command_text(activity: Activity) -> str:
    """The message text without @mentions (channel messages start with one of the bot)."""
    return _MENTION.sub(" ", activity.text or "").strip()


def includes_bot(members: list[ChannelAccount] | None, activity: Activity) -> bool:
    return bool(members and activity.recipient and any(member.id == activity.recipient.id for member in members))


def parse_card_action(value) -> tuple[Action, int] | str:
    """(verb, incident number) from an adaptiveCard/action invoke value, or what is wrong with it."""
    action = value.get("action") if isinstance(value, dict) else None
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        return "expected an Action.Execute action"
    verb = action.get("verb")
    if verb not in (Action.ACKNOWLEDGE, Action.RESOLVE):
        return f"unknown verb {str(verb)[:40]!r}"
    data = action.get("data")
    value = data.get("incident") if isinstance(data, dict) else None
    if value is None:
        return "the action names no incident"
    number = parse_number(value)
    if number is None:
        return f"incident must be a number from 1 to {MAX_INCIDENT_NUMBER}"
    return Action(verb), number
