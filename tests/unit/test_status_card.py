"""Adaptive Cards for Teams `status` and `list`: valid against Microsoft's Adaptive Card 1.5 schema,
within Teams' message size, the same content as the Slack answer, and the card actions the bot
already handles."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.teams.activities import parse_card_action
from bot.teams.status_card import list_card, status_card
from channels.teams_cards import CardFacts, incident_card
from incidents.report import IncidentReport
from incidents.status_view import build_list_view, build_status_view
from tests.adaptive_card_schema import schema_errors
from tests.unit.status_samples import NOW, TRIGGERED, failed_everywhere, forty_people, incident, nobody_paged, typical

SAMPLES = {"typical": typical, "nobody paged": nobody_paged, "failed everywhere": failed_everywhere, "40 people": forty_people}
TEAMS_MESSAGE_LIMIT = 28_000


def _texts(card: dict) -> list[str]:
    """Every text on the card, facts as "title: value"."""
    found = []

    def walk(element):
        if element.get("type") == "TextBlock":
            found.append(element["text"])
        for fact in element.get("facts", []):
            found.append(f"{fact['title']}: {fact['value']}")
        for child in element.get("items", []) + element.get("body", []):
            walk(child)

    walk(card)
    return found


def _actions(card: dict) -> list[dict]:
    nested = [action for element in card["body"] if element["type"] == "Container"
              for item in element["items"] if item["type"] == "ActionSet" for action in item["actions"]]
    return card.get("actions", []) + nested


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_status_card_is_a_valid_adaptive_card_within_teams_size(sample):
    card = status_card(build_status_view(*SAMPLES[sample](), NOW, "Europe/Berlin"))
    assert schema_errors(card) == []
    assert card["version"] == "1.5"
    assert len(json.dumps(card).encode()) < TEAMS_MESSAGE_LIMIT


def test_the_schema_check_catches_a_broken_card():
    card = status_card(build_status_view(*typical(), NOW, "UTC"))
    card["body"][2]["facts"] = "Status: Triggered"
    assert schema_errors(card) == ["body/2/facts: 'Status: Triggered' is not of type 'array'"]
    card = status_card(build_status_view(*typical(), NOW, "UTC"))
    card["body"].append({"type": "TextBlock", "text": "x", "color": "Green"})
    assert len(schema_errors(card)) == 1


def test_the_incident_cards_are_valid_too():
    facts = CardFacts(
        number=42, title="DB primary down", body="", priority="CRITICAL", service="db", team_name="Payments",
        alert_count=1, escalation_level=1, triggered_at=TRIGGERED, dashboard_url="https://grafana.example/d/1",
        status="TRIGGERED", time_zone="UTC",
    )
    assert schema_errors(incident_card(facts)) == []


def test_the_status_card_has_the_same_content_as_the_slack_answer():
    card = status_card(build_status_view(*typical(), NOW, "Europe/Berlin"))
    texts = _texts(card)
    assert texts[0] == "#42 CRITICAL · DB primary down"
    assert "Times in: Europe/Berlin (CET)" in texts and "Status: Triggered" in texts
    alice = texts.index("Alice · level 1")
    assert texts[alice + 1: alice + 4] == [
        "✅ Slack: delivered 14:01", "❌ Email: failed: 550 5.1.1 mailbox unavailable", "⏭ SMS at 14:06 if nobody acknowledges",
    ]
    assert "⏳ Phone: queued, next try 14:07 after: HTTP 503 (2 tries)" in texts
    assert "✅ Slack C0123: delivered 14:00" in texts
    assert "⚠️ No channel can reach Carol (level 1)" in texts and "⏭ Level 2 (Dave) at 14:10 if nobody acknowledges" in texts


def test_the_card_actions_are_the_ones_the_bot_handles():
    card = status_card(build_status_view(*typical(), NOW, "UTC"))
    actions = _actions(card)
    assert [(action["type"], action["verb"]) for action in actions] == [("Action.Execute", "acknowledge"), ("Action.Execute", "resolve")]
    invoke = {"action": {"type": "Action.Execute", "verb": actions[0]["verb"], "data": actions[0]["data"]}}
    assert parse_card_action(invoke) == ("acknowledge", 42)
    report, outlook, names = typical()
    resolved = IncidentReport(incident(status="RESOLVED", resolved_at=NOW, resolved_by_name="Bob", resolved_via="SMS"),
                              "Payments", report.notifications, ())
    assert "actions" not in status_card(build_status_view(resolved, outlook, names, NOW, "UTC"))


def test_forty_people_are_summarised_and_nobody_is_left_out_silently():
    view = build_status_view(*forty_people(), NOW, "UTC")
    texts = "\n".join(_texts(status_card(view)))
    assert "40 people paged: ❌ 48 failed · ✅ 192 delivered" in texts
    assert all(person.name in texts for person in view.people)
    assert "ackbot status 42" in texts


def test_the_list_card_has_a_container_and_buttons_per_incident():
    acknowledged = incident(43, "ACKNOWLEDGED", acknowledged_at=NOW, acknowledged_by_name="Alice", acknowledged_via="SLACK")
    many = [acknowledged] + [incident(number, triggered_at=NOW - timedelta(hours=number)) for number in range(1, 20)]
    card = list_card(build_list_view(many, True, NOW, "Europe/Berlin"))
    assert schema_errors(card) == [] and len(json.dumps(card).encode()) < TEAMS_MESSAGE_LIMIT
    texts = _texts(card)
    assert texts[0] == "Open incidents (20+)"
    assert "Payments · Acknowledged · 5 min ago · Acknowledged by Alice via Slack at 14:05" in texts
    assert [action["verb"] for action in _actions(card)][:3] == ["resolve", "acknowledge", "resolve"]
    assert "More are open" in texts[-1]
    empty = list_card(build_list_view([], False, NOW, "UTC"))
    assert schema_errors(empty) == [] and _texts(empty) == ["No open incidents."]


def test_a_card_too_big_for_teams_details_fewer_people_and_says_how_many_are_left():
    report, outlook, names = forty_people()
    many_pages = tuple(line.__class__(**{**line.__dict__, "status": "FAILED", "error": "y" * 300}) for line in report.notifications)
    bigger = IncidentReport(report.incident, "Payments", many_pages * 4, ())
    card = status_card(build_status_view(bigger, outlook, names, NOW, "UTC"))
    assert schema_errors(card) == [] and len(json.dumps(card).encode()) < TEAMS_MESSAGE_LIMIT
    texts = "\n".join(_texts(card))
    assert "more, " in texts and "of them with a failed page" in texts
