"""The Teams cards and the pure parts of the bot: card content, click parsing, answers."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botbuilder.schema import Activity

from bot.commands import MAX_INCIDENT_NUMBER
from bot.teams.activities import command_text, parse_card_action
from bot.teams.cards import card_response, outcome_text, refreshed_card
from channels.teams_cards import BODY_LIMIT, CardFacts, incident_card
from channels.types import NotificationAction
from incidents.service import ActionOutcome
from incidents.teams_views import CardView
from storage.enums import Action
from storage.models import Incident

TRIGGERED_AT = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)


def facts(**changes) -> CardFacts:
    values = dict(
        number=7, title="Checkout latency", body="p99 above 2s", priority="MEDIUM", service="checkout",
        team_name="Payments", alert_count=1, escalation_level=None, triggered_at=TRIGGERED_AT, dashboard_url=None,
        status="TRIGGERED", time_zone="America/New_York",
        actions=(NotificationAction("acknowledge", "Acknowledge", "primary"), NotificationAction("resolve", "Resolve", "danger")),
    )
    values.update(changes)
    return CardFacts(**values)


def test_the_card_shows_the_facts_in_the_readers_zone():
    card = incident_card(facts())
    headline, fact_set, body = card["body"]
    assert (headline["text"], headline["color"]) == ("MEDIUM · #7 · Checkout latency", "Warning")
    assert [(fact["title"], fact["value"]) for fact in fact_set["facts"]] == [
        ("Status", "Triggered"), ("Priority", "MEDIUM"), ("Service", "checkout"), ("Team", "Payments"),
        ("Alerts", "1"), ("Escalation level", "-"), ("Triggered", "Wed 1 Jul 2026, 05:30 EDT"),
    ]
    assert body["text"] == "p99 above 2s" and body["wrap"] is True
    assert card["actions"][0] == {
        "type": "Action.Execute", "title": "Acknowledge", "verb": "acknowledge", "data": {"incident": 7}, "style": "positive",
    }


def test_a_resolved_card_has_no_buttons_but_keeps_the_dashboard_link():
    card = incident_card(facts(status="RESOLVED", actions=(), dashboard_url="https://grafana.example/d/1",
                               status_text="Resolved by Bob via SMS at …"))
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open dashboard", "url": "https://grafana.example/d/1"}]
    assert card["body"][-1]["text"] == "Resolved by Bob via SMS at …" and card["body"][-1]["color"] == "Good"


def test_long_bodies_are_cut():
    card = incident_card(facts(body="word " * 1000))
    assert len(card["body"][2]["text"]) <= BODY_LIMIT and card["body"][2]["text"].endswith("…")


def _outcome(changed: bool, status: str) -> ActionOutcome:
    incident = Incident(id=7, title="Checkout latency", priority="HIGH", status=status, triggered_at=TRIGGERED_AT, alert_count=2)
    return ActionOutcome(incident, Action.ACKNOWLEDGE, changed, "Alice", "TEAMS", datetime(2026, 7, 1, 9, 45, tzinfo=UTC))


def test_outcome_text_says_who_acted_and_whether_this_click_changed_anything():
    assert outcome_text(_outcome(True, "ACKNOWLEDGED"), "UTC") == "Acknowledged by Alice via Teams at Wed 1 Jul 2026, 09:45 UTC"
    assert outcome_text(_outcome(False, "RESOLVED"), "UTC") == "Already resolved by Alice via Teams at Wed 1 Jul 2026, 09:45 UTC"


def test_the_refreshed_card_offers_only_what_is_left():
    outcome = _outcome(True, "ACKNOWLEDGED")
    card = refreshed_card(CardView(outcome.incident, "Payments", 1), outcome, "UTC", "http://ackbot.test")
    assert [action.get("verb", action["title"]) for action in card["actions"]] == ["resolve", "Open in Ackbot"]
    response = card_response(card)
    assert response.status == 200
    assert response.body == {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}


OUT_OF_RANGE = f"incident must be a number from 1 to {MAX_INCIDENT_NUMBER}"


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {"incident": 42}}}, (Action.ACKNOWLEDGE, 42)),
        ({"action": {"type": "Action.Execute", "verb": "resolve", "data": {"incident": 3}}}, (Action.RESOLVE, 3)),
        (None, "expected an Action.Execute action"),
        ({"action": {"type": "Action.Submit"}}, "expected an Action.Execute action"),
        ({"action": {"type": "Action.Execute", "verb": "escalate", "data": {"incident": 3}}}, "unknown verb 'escalate'"),
        ({"action": {"type": "Action.Execute", "verb": "resolve", "data": {"incident": True}}}, OUT_OF_RANGE),
        ({"action": {"type": "Action.Execute", "verb": "resolve", "data": {"incident": -1}}}, OUT_OF_RANGE),
        ({"action": {"type": "Action.Execute", "verb": "resolve", "data": {"incident": 10**30}}}, OUT_OF_RANGE),
        ({"action": {"type": "Action.Execute", "verb": "resolve", "data": {"incident": "15"}}}, (Action.RESOLVE, 15)),
        ({"action": {"type": "Action.Execute", "verb": "resolve"}}, "the action names no incident"),
    ],
)
def test_parse_card_action(value, expected):
    assert parse_card_action(value) == expected


def test_mentions_are_stripped_from_commands():
    activity = Activity(text="<at>Ackbot</at> status   42 ")
    assert command_text(activity) == "status   42"
    assert command_text(Activity(text=None)) == ""
