"""Answers to ``adaptiveCard/action`` invokes: the refreshed incident card, a message, or an
error, as Universal Actions expect them. Pure.

The bodies are plain JSON-ready dicts: the adapter (``bot.teams.adapter``) writes them into the
HTTP answer as they are.
"""
from __future__ import annotations

from http import HTTPStatus

from botbuilder.core import InvokeResponse

from channels.base import format_timestamp
from channels.payloads import actions_for, incident_page_url
from channels.teams_cards import CARD_CONTENT_TYPE, CardFacts, incident_card
from incidents.service import ActionOutcome
from incidents.teams_views import CardView
from storage.enums import surface_label


def outcome_text(outcome: ActionOutcome, time_zone: str) -> str:
    """"Acknowledged by Alice via TEAMS at …", or "Already resolved by Bob via SLACK at …" when
    the click changed nothing."""
    at = format_timestamp(outcome.at, time_zone) if outcome.at else "an unknown time"
    state = outcome.incident.status.lower()
    if outcome.changed:
        return f"{state.capitalize()} by {outcome.by} via {surface_label(outcome.via)} at {at}"
    return f"Already {state} by {outcome.by} via {surface_label(outcome.via)} at {at}"


def refreshed_card(view: CardView, outcome: ActionOutcome, time_zone: str, public_url: str) -> dict:
    """The incident card in its new state, with only the buttons that still make sense."""
    incident = view.incident
    # No tokens: chat buttons carry no links. The public URL is then never used.
    actions = actions_for(incident.status, {}, "")
    facts = CardFacts(
        number=incident.id, title=incident.title, body=incident.body, priority=incident.priority,
        service=incident.service, team_name=view.team_name, alert_count=incident.alert_count,
        escalation_level=view.escalation_level, triggered_at=incident.triggered_at,
        dashboard_url=incident.dashboard_url, status=incident.status, time_zone=time_zone,
        status_text=outcome_text(outcome, time_zone), actions=actions,
        incident_url=incident_page_url(public_url, incident.id),
    )
    return incident_card(facts)


def card_response(card: dict) -> InvokeResponse:
    return _response(HTTPStatus.OK, CARD_CONTENT_TYPE, card)


def message_response(text: str) -> InvokeResponse:
    """A short message Teams shows instead of changing the card."""
    return _response(HTTPStatus.OK, "application/vnd.microsoft.activity.message", text)


def error_response(status: HTTPStatus, message: str) -> InvokeResponse:
    return _response(status, "application/vnd.microsoft.error", {"code": status.phrase.replace(" ", ""), "message": message})


def _response(status: HTTPStatus, content_type: str, value) -> InvokeResponse:
    return InvokeResponse(status=int(status), body={"statusCode": int(status), "type": content_type, "value": value})
