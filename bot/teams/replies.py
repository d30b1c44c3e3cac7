"""What the Teams bot says. Pure."""
from __future__ import annotations

from datetime import datetime, timedelta

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity, Attachment

from channels.teams_cards import CARD_CONTENT_TYPE

NOT_LINKED = (
    "I don't know who you are in Ackbot yet. Open a chat with me and say link; "
    "if that finds nobody, ask an admin to add your email to Ackbot."
)
PUSH_OFF = "Push notifications are off on this Ackbot server."
PERSONAL_ONLY = "Say {verb} in a personal chat with me: the answer is yours alone."


def card_message(card: dict, summary: str) -> Activity:
    """A message carrying one Adaptive Card; ``summary`` is what notifications show."""
    message = MessageFactory.attachment(Attachment(content_type=CARD_CONTENT_TYPE, content=card))
    message.summary = summary
    return message


def welcome_text(user) -> str:
    if user is None:
        return (
            "Hi! I page people about incidents. I couldn't find you among Ackbot's users yet: ask an admin to"
            " add your email, then say link. Say help for the commands."
        )
    return f"Hi {user.name}! Incident pages for you will arrive here as cards you can acknowledge or resolve. Say help for the commands."


def team_welcome_text(conversation_id: str) -> str:
    return (
        "Hi! I page people about incidents. To have a team's incidents posted here as cards anyone on the"
        f' team can act on, put teams_channel = "{conversation_id}" under that team in Ackbot\'s people file.'
    )


def linked_text(user) -> str:
    return f"Linked: this Teams account is {user.name} in Ackbot; pages for you arrive here."


def not_matched_text(email: str | None) -> str:
    if not email:
        return "Teams didn't tell me your email, so I can't find you in Ackbot: ask an admin to link you."
    return f"No Ackbot user has the email {email}. Ask an admin to add you, then say link again."


def web_link_text(url: str, ttl: timedelta) -> str:
    minutes = round(ttl.total_seconds() / 60)
    return f"This link signs you in to Ackbot's web view, once, within {minutes} minutes. Keep it to yourself: {url}"


def push_link_text(url: str, expires_at: datetime) -> str:
    return f"Open this link on the device that should get push pages; it works once, until {expires_at:%Y-%m-%d %H:%M} UTC: {url}"
