"""Answers by SMS: TwiML messages, short, in characters every phone shows."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from bot.phone_replies import SMS_HELP, SMS_REPLY_LIMIT, sms_help, sms_reply, sms_safe, sms_status
from incidents.report import IncidentReport, NotificationLine
from storage.models import Incident

AT = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def line(person, channel, status, kind="ALERT"):
    return NotificationLine(1, person, channel, kind, status, 1, None, None, 1, "primary", AT, None, None, None)


def test_a_reply_is_one_twiml_message_and_an_empty_reply_is_none():
    root = ET.fromstring(sms_reply("#42 acknowledged by Alice via SMS."))
    assert [(child.tag, child.text) for child in root] == [("Message", "#42 acknowledged by Alice via SMS.")]
    assert list(ET.fromstring(sms_reply(""))) == []


def test_replies_are_kept_short_and_gsm7_friendly():
    assert sms_safe("#42 HIGH \u00b7 db \u00b7 DB down [TRIGGERED]") == "#42 HIGH - db - DB down [TRIGGERED]"
    long = sms_safe("x" * 1000)
    assert len(long) == SMS_REPLY_LIMIT and long.endswith("...")


def test_help_names_the_sms_commands_and_why_the_text_was_not_understood():
    assert "ACK 42" in SMS_HELP and "RES 42" in SMS_HELP and "STATUS 42" in SMS_HELP
    assert sms_help('I don\'t know "hello".') == f'I don\'t know "hello". {SMS_HELP}'
    assert len(SMS_HELP) <= 2 * 153


def test_status_is_a_compact_grid_of_the_pages_per_person():
    incident = Incident(
        id=42, title="DB primary down", priority="CRITICAL", service="payments", status="ACKNOWLEDGED",
        acknowledged_by_name="Alice", acknowledged_via="SMS",
    )
    report = IncidentReport(incident, "payments", (
        line("Alice", "EMAIL", "FAILED"), line("Alice", "SMS", "DELIVERED"), line("Alice", "VOICE", "CANCELLED"),
        line("Bob", "EMAIL", "SENT"), line("Bob", "EMAIL", "QUEUED", kind="STATUS"),
    ), ())
    assert sms_status(report) == (
        "#42 CRITICAL payments: DB primary down [ACKNOWLEDGED by Alice via SMS]\n"
        "Alice: EMAIL FAILED, SMS DELIVERED, VOICE CANCELLED\n"
        "Bob: EMAIL SENT"
    )
    nobody = IncidentReport(Incident(id=7, title="x", priority="LOW", service="", status="TRIGGERED"), None, (), ())
    assert sms_status(nobody) == "#7 LOW: x [TRIGGERED]\nnobody paged"
