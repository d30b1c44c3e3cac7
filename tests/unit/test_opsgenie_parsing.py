"""Opsgenie Alert API requests as real senders post them (Alertmanager 0.25's
``opsgenie_configs``, Grafana's Opsgenie contact point, scripts), and the bad ones."""
from __future__ import annotations

import pytest

from incidents.intake import IntakeError
from incidents.intake.opsgenie import (
    ActionNote,
    parse_create,
    parse_description,
    parse_message,
    parse_note,
    parse_reference,
)
from storage.enums import Priority

GROUP_HASH = "4f0c7a1e2b3d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"

# Alertmanager 0.25 with `opsgenie_configs: [{api_key, api_url, priority: P1, responders: [{name:
# payments, type: team}], tags: "db,prod"}]`: details are the common labels, source its alert view.
ALERTMANAGER_CREATE = {
    "alias": GROUP_HASH,
    "message": "[FIRING:1] PostgresDown (db-1 payments critical)",
    "description": "Payments database primary is down",
    "details": {"alertname": "PostgresDown", "instance": "db-1", "severity": "critical", "team": "payments"},
    "source": "http://alertmanager.example:9093/#/alerts?receiver=opsgenie",
    "responders": [{"name": "payments", "type": "team"}],
    "tags": ["db", "prod"],
    "priority": "P1",
}

# Grafana 11's Opsgenie contact point ("send tags as both"; og_priority overriding the priority).
GRAFANA_CREATE = {
    "alias": "8d3c0b1a9e7f6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c",
    "message": "[FIRING:1] HighLatency api (platform)",
    "description": "[FIRING:1] HighLatency api (platform)\nhttp://grafana.example:3000/alerting/list\n\nValue: B=1.2",
    "details": {"url": "http://grafana.example:3000/alerting/list", "alertname": "HighLatency",
                "og_priority": "P2", "team": "platform"},
    "source": "Grafana",
    "tags": ["alertname:HighLatency", "og_priority:P2", "team:platform"],
    "priority": "P2",
}


def test_alertmanager_create():
    alert = parse_create(ALERTMANAGER_CREATE)
    trigger = alert.trigger
    assert alert.alias == GROUP_HASH and trigger.dedup_key == GROUP_HASH
    assert trigger.title == "[FIRING:1] PostgresDown (db-1 payments critical)"
    assert trigger.priority == Priority.CRITICAL
    assert trigger.team == "payments"
    assert trigger.body.startswith("Payments database primary is down\n\nalertname: PostgresDown")
    assert trigger.labels["instance"] == "db-1" and trigger.labels["priority"] == "P1"
    assert trigger.dashboard_url is None


def test_grafana_create():
    trigger = parse_create(GRAFANA_CREATE).trigger
    assert trigger.priority == Priority.HIGH
    assert trigger.team == "platform"
    assert trigger.dashboard_url == "http://grafana.example:3000/alerting/list"
    assert trigger.labels["alertname"] == "HighLatency" and trigger.labels["source"] == "Grafana"


@pytest.mark.parametrize("priority, expected", [
    ("P1", Priority.CRITICAL), ("P2", Priority.HIGH), ("P3", Priority.MEDIUM), ("p4", Priority.LOW),
    ("P5", Priority.INFO), (None, Priority.MEDIUM), ("", Priority.MEDIUM), ("P9", Priority.MEDIUM),
])
def test_priorities_p1_to_p5_and_opsgenies_default_p3(priority, expected):
    body = {"message": "Disk full", "priority": priority}
    assert parse_create(body).trigger.priority == expected


def test_a_script_create_with_only_a_message_opens_a_new_incident_each_time():
    alert = parse_create({"message": "  Backup failed  "})
    assert (alert.alias, alert.trigger.dedup_key, alert.trigger.title) == ("", None, "Backup failed")


def test_long_text_is_clipped_and_a_long_alias_digested():
    alert = parse_create({"message": "m" * 600, "alias": "a" * 512, "description": "d" * 30_000})
    assert len(alert.trigger.title) == 500 and len(alert.trigger.body) == 20_000
    assert alert.trigger.dedup_key.startswith("opsgenie:sha256:")
    assert parse_reference("a" * 512, "alias").dedup_key == alert.trigger.dedup_key


def test_the_team_comes_from_the_first_team_responder():
    body = {"message": "x", "responders": [{"username": "alice@example.com", "type": "user"},
                                           {"name": "Payments Team,sre", "type": "teams"}]}
    assert parse_create(body).trigger.team == "Payments Team"


@pytest.mark.parametrize("body, field, status", [
    ([ALERTMANAGER_CREATE], None, 400),
    ({"description": "no message"}, "message", 422),
    ({"message": "   "}, "message", 422),
    ({"message": 42}, "message", 422),
    ({"message": "x", "details": ["a"]}, "details", 422),
    ({"message": "x", "tags": "db,prod"}, "tags", 422),
    ({"message": "x", "responders": {"name": "payments"}}, "responders", 422),
    ({"message": "x", "alias": 7}, "alias", 422),
])
def test_bad_creates_are_refused_naming_the_field(body, field, status):
    with pytest.raises(IntakeError) as refused:
        parse_create(body)
    assert (refused.value.field, refused.value.status) == (field, status)


def test_references_by_alias_id_and_tiny():
    assert parse_reference(GROUP_HASH, "alias").dedup_key == GROUP_HASH
    assert parse_reference("42", None).number == 42
    assert parse_reference("42", "tiny").number == 42
    assert parse_reference("8743a1b2-11da-480e-8493-744660987bef", "id").number is None
    assert parse_reference("٤٢", "id").number is None
    with pytest.raises(IntakeError) as refused:
        parse_reference("42", "fingerprint")
    assert refused.value.field == "identifierType"


def test_close_and_acknowledge_bodies():
    assert parse_note(None) == ActionNote()
    assert parse_note({"source": "Grafana"}) == ActionNote(source="Grafana")
    assert parse_note({"user": "alice", "note": "fixed", "source": "cli"}) == ActionNote("alice", "cli", "fixed")
    with pytest.raises(IntakeError):
        parse_note({"user": ["alice"]})


def test_message_and_description_updates():
    assert parse_message({"message": "[FIRING:2] PostgresDown"}) == "[FIRING:2] PostgresDown"
    assert parse_description({"description": "two down"}) == "two down"
    assert parse_description({}) == ""
    with pytest.raises(IntakeError):
        parse_message({})
