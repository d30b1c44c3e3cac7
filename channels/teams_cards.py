"""The Adaptive Cards (version 1.5) a Teams page, status notice or test becomes. Pure: facts in,
card JSON out.

The proactive page (``channels.teams``) and the card the bot answers a click with
(``bot.teams``) are built here from the same ``CardFacts``, so a refreshed card looks exactly
like the one it replaces.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from channels.base import format_timestamp, truncate
from channels.types import NotificationAction, NotificationKind, NotificationPayload

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
TITLE_LIMIT = 300
BODY_LIMIT = 2000
PRIORITY_COLOURS = {"CRITICAL": "Attention", "HIGH": "Attention", "MEDIUM": "Warning", "LOW": "Accent", "INFO": "Default"}
_STATUS_COLOURS = {"TRIGGERED": "Attention", "ACKNOWLEDGED": "Warning", "RESOLVED": "Good"}
_ACTION_STYLES = {"primary": "positive", "danger": "destructive"}


@dataclass(frozen=True)
class CardFacts:
    """What an incident card shows. ``time_zone`` is the reader's IANA zone; ``status_text``
    says who changed the state ("Acknowledged by Alice via SLACK at …"); ``actions`` are the
    buttons that still make sense."""

    number: int
    title: str
    body: str
    priority: str
    service: str
    team_name: str
    alert_count: int
    escalation_level: int | None
    triggered_at: datetime
    dashboard_url: str | None
    status: str
    time_zone: str
    status_text: str | None = None
    actions: tuple[NotificationAction, ...] = ()
    incident_url: str | None = None

    @classmethod
    def from_payload(cls, payload: NotificationPayload) -> CardFacts:
        return cls(
            number=payload.incident_id, title=payload.title, body=payload.body, priority=str(payload.priority),
            service=payload.service, team_name=payload.team_name, alert_count=payload.alert_count,
            escalation_level=payload.escalation_level, triggered_at=payload.triggered_at,
            dashboard_url=payload.dashboard_url, status=payload.incident_status,
            time_zone=payload.recipient.time_zone, status_text=payload.status_text, actions=payload.actions,
            incident_url=payload.incident_url,
        )


def headline(facts: CardFacts) -> str:
    """"CRITICAL · #42 · DB primary down": the card's title line and the notification preview."""
    return truncate(f"{facts.priority} · #{facts.number} · {facts.title}", TITLE_LIMIT)


def incident_card(facts: CardFacts) -> dict:
    """The incident card: headline, facts, body, who changed the state, and the buttons left."""
    body = [
        text_block(headline(facts), weight="Bolder", size="Medium", color=PRIORITY_COLOURS.get(facts.priority, "Default")),
        {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in _facts(facts)]},
    ]
    if facts.body:
        body.append(text_block(truncate(facts.body, BODY_LIMIT)))
    if facts.status_text:
        body.append(text_block(facts.status_text, weight="Bolder", color=_STATUS_COLOURS.get(facts.status, "Default")))
    actions = [execute_action(action, facts.number) for action in facts.actions]
    if facts.dashboard_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open dashboard", "url": facts.dashboard_url})
    if facts.incident_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open in Ackbot", "url": facts.incident_url})
    return adaptive_card(body, actions)


def _facts(facts: CardFacts) -> list[tuple[str, str]]:
    return [
        ("Status", facts.status.title()),
        ("Priority", facts.priority),
        ("Service", facts.service or "-"),
        ("Team", facts.team_name or "-"),
        ("Alerts", str(facts.alert_count)),
        ("Escalation level", str(facts.escalation_level or "-")),
        ("Triggered", format_timestamp(facts.triggered_at, facts.time_zone)),
    ]


def execute_action(action: NotificationAction, number: int) -> dict:
    """An Action.Execute button; the bot receives ``verb`` and ``data`` in an adaptiveCard/action invoke."""
    button = {"type": "Action.Execute", "title": action.label, "verb": action.id, "data": {"incident": number}}
    if action.style in _ACTION_STYLES:
        button["style"] = _ACTION_STYLES[action.style]
    return button


def test_card(payload: NotificationPayload) -> dict:
    """A short card that proves the Teams channel reaches the person; no buttons."""
    return adaptive_card(
        [
            text_block("Ackbot test page", weight="Bolder", size="Medium"),
            text_block(f"Hello {payload.recipient.name}: {payload.body or 'this is a test.'}"),
            text_block("Real pages arrive like this, with Acknowledge and Resolve buttons.", isSubtle=True),
        ],
        [],
    )


def payload_card(payload: NotificationPayload) -> dict:
    """The card for any payload: the test card for a TEST, the incident card otherwise."""
    if payload.kind == NotificationKind.TEST:
        return test_card(payload)
    return incident_card(CardFacts.from_payload(payload))


def payload_summary(payload: NotificationPayload) -> str:
    """The plain text Teams shows in notifications and where cards cannot be drawn."""
    if payload.kind == NotificationKind.TEST:
        return "Ackbot test page"
    facts = CardFacts.from_payload(payload)
    return f"{payload.status_text} · {headline(facts)}" if payload.status_text else headline(facts)


def attachment(card: dict) -> dict:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def adaptive_card(body: list[dict], actions: list[dict]) -> dict:
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def text_block(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}
