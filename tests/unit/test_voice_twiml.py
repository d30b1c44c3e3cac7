"""What a call says and which keys it listens for, as the TwiML Twilio receives."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from bot.phone_replies import CALL_GONE, call_answer, call_menu, call_redirect, call_refusal
from incidents.phone_lookup import Call, Person
from incidents.service import ActionOutcome
from storage.enums import Action
from storage.models import Incident

GATHER_URL = "https://ackbot.example.com/twilio/voice/7/gather"
AT = datetime(2026, 11, 28, 14, 2, tzinfo=UTC)


def incident(**changes) -> Incident:
    fields = dict(id=42, title="DB primary down", priority="CRITICAL", service="payments", status="TRIGGERED")
    fields.update(changes)
    return Incident(**fields)


def call(kind="ALERT", **changes) -> Call:
    return Call(7, kind, incident(**changes), Person(3, "Alice"))


def parse(twiml: str) -> ET.Element:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return root


def test_a_page_reads_the_incident_and_gathers_one_digit_for_the_action_url():
    root = parse(call_menu(call(), GATHER_URL))
    gather = root.find("Gather")
    assert gather.attrib == {"numDigits": "1", "action": GATHER_URL, "method": "POST", "timeout": "8"}
    say = gather.find("Say")
    assert say.text == (
        "This is Ackbot. critical incident 42, service payments. DB primary down. "
        "Press 1 to acknowledge, 2 to resolve, or 9 to hear this again."
    )
    assert say.attrib["loop"] == "2"
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]


def test_an_acknowledged_incident_offers_only_resolve_and_says_who_acknowledged():
    root = parse(call_menu(call(status="ACKNOWLEDGED", acknowledged_by_name="Bob"), GATHER_URL))
    text = root.find("Gather/Say").text
    assert "It was acknowledged by Bob." in text
    assert text.endswith("Press 2 to resolve, or 9 to hear this again.")
    assert "1 to acknowledge" not in text


def test_a_resolved_incident_is_read_out_without_a_menu():
    root = parse(call_menu(call(status="RESOLVED", resolved_by_name="Bob"), GATHER_URL))
    assert root.find("Gather") is None
    assert root.find("Say").text.endswith("It was resolved by Bob. Goodbye.")
    assert root.find("Hangup") is not None


def test_a_test_call_says_nothing_is_wrong_and_hangs_up():
    root = parse(call_menu(call(kind="TEST"), GATHER_URL))
    assert root.find("Gather") is None
    assert "test call from Ackbot for Alice" in root.find("Say").text
    assert "Nothing is wrong" in root.find("Say").text


def test_titles_are_escaped_in_the_xml():
    root = parse(call_menu(call(title="<Hangup/> & more"), GATHER_URL))
    assert "<Hangup/> & more." in root.find("Gather/Say").text
    assert root.find("Gather/Hangup") is None


def test_after_a_keypress_the_call_says_what_happened():
    done = ActionOutcome(incident(status="ACKNOWLEDGED"), Action.ACKNOWLEDGE, True, "Alice", "VOICE", AT)
    assert parse(call_answer(done)).find("Say").text == "Incident 42 acknowledged. Thank you. Goodbye."
    already = ActionOutcome(incident(status="RESOLVED"), Action.ACKNOWLEDGE, False, "Bob", "SLACK", AT)
    root = parse(call_answer(already))
    assert root.find("Say").text == "Incident 42 was already resolved by Bob. Nothing changed. Goodbye."
    assert root.find("Hangup") is not None


def test_repeat_and_refusal():
    root = parse(call_redirect("https://ackbot.example.com/twilio/voice/7", "Sorry, 5 is not an option."))
    assert [child.tag for child in root] == ["Say", "Redirect"]
    assert root.find("Redirect").text == "https://ackbot.example.com/twilio/voice/7"
    assert root.find("Redirect").attrib == {"method": "POST"}
    assert [child.tag for child in parse(call_redirect("https://x/twilio/voice/7"))] == ["Redirect"]
    assert parse(call_refusal(CALL_GONE)).find("Say").text == CALL_GONE
