"""Grafana's webhook bodies (Grafana 11/12 unified alerting and legacy Grafana 7) as triggers and
resolves. Pure."""
from __future__ import annotations

import json

import pytest

from incidents.intake import IntakeError
from incidents.intake.grafana import parse_grafana
from incidents.intake.samples import detect_format, parse_sample
from storage.enums import Priority
from tests.grafana_payloads import (
    GRAFANA,
    GROUP_KEY,
    formatted_webhook,
    grafana_alert,
    grafana_notification,
    legacy_grafana,
)


def test_a_firing_group_triggers_with_every_alert_by_fingerprint():
    body = grafana_notification(grafana_alert("web-1", "warning"), grafana_alert("web-2", "critical"))
    notification = parse_grafana(json.loads(json.dumps(body)))
    assert (notification.firing, notification.resolved) == (True, False)
    trigger = notification.trigger
    assert trigger.title == "CPU high"
    assert trigger.priority == Priority.CRITICAL  # the most severe firing alert, not commonLabels
    assert trigger.labels["severity"] == "critical" and trigger.team == "platform"
    assert trigger.service == "Infrastructure"
    assert trigger.dedup_key == f"grafana:1:{GROUP_KEY}"
    assert trigger.dashboard_url == f"{GRAFANA}/d/node/node-exporter?orgId=1&viewPanel=3"
    assert trigger.body.startswith(f"Silence in Grafana: {GRAFANA}/alerting/silence/new?")
    fingerprints = [alert.fingerprint for alert in trigger.group.alerts]
    assert fingerprints == [body["alerts"][0]["fingerprint"], body["alerts"][1]["fingerprint"]]
    assert trigger.group.alerts[1].line == "[critical] High CPU web-2: CPU above 90% on web-2 for 5 minutes (A=93.2, C=1)"


def test_a_resolved_group_resolves():
    body = grafana_notification(grafana_alert("web-1", status="resolved"))
    notification = parse_grafana(body)
    assert (notification.firing, notification.resolved) == (False, True)
    assert notification.trigger.dedup_key == f"grafana:1:{GROUP_KEY}"


def test_grafana_9_value_strings_and_missing_optional_fields_are_accepted():
    alert = grafana_alert("web-1")
    for name in ("values", "panelURL", "silenceURL", "fingerprint"):
        del alert[name]
    alert["dashboardURL"] = ""
    body = grafana_notification(alert)
    del body["orgId"]
    trigger = parse_grafana(body).trigger
    assert "value=93.2" in trigger.group.alerts[0].line
    assert trigger.group.alerts[0].fingerprint.startswith("sha256:")
    assert trigger.dashboard_url == f"{GRAFANA}/alerting/grafana/fe2b1c3d9a/view?orgId=1"
    assert trigger.dedup_key == f"grafana:{GROUP_KEY}" and trigger.body == ""


def test_a_long_group_key_is_digested_to_fit():
    body = grafana_notification(grafana_alert("web-1"))
    body["groupKey"] = "{}:" + "x" * 400
    assert len(parse_grafana(body).trigger.dedup_key) <= 255


def test_a_legacy_alert_triggers_per_rule_and_ok_resolves():
    notification = parse_grafana(legacy_grafana("alerting"))
    assert (notification.firing, notification.resolved) == (True, False)
    trigger = notification.trigger
    assert (trigger.title, trigger.priority, trigger.team) == ("High CPU", Priority.CRITICAL, "platform")
    assert trigger.dedup_key == "grafana-legacy:rule-id:7"
    assert trigger.dashboard_url.startswith("https://grafana.example.com/d/node/")
    assert trigger.body.splitlines() == [
        "CPU above 90%", "web-1: 93.2", "Image: https://grafana.example.com/public/img/attachments/abc.png",
    ]
    resolved = parse_grafana(legacy_grafana("ok"))
    assert (resolved.firing, resolved.resolved, resolved.trigger.dedup_key) == (False, True, "grafana-legacy:rule-id:7")


def test_legacy_no_data_triggers_and_paused_changes_nothing():
    assert parse_grafana(legacy_grafana("no_data")).trigger.title == "No data: High CPU"
    paused = parse_grafana(legacy_grafana("paused"))
    assert (paused.firing, paused.resolved) == (False, False)


def test_grafanas_test_notification_groups_by_rule_name():
    body = legacy_grafana(rule_id=0)
    body["tags"] = None
    trigger = parse_grafana(body).trigger
    assert trigger.dedup_key == "grafana-legacy:rule:High CPU" and trigger.priority == Priority.HIGH


@pytest.mark.parametrize(
    "change, status, field",
    [
        (lambda body: body.update(alerts="none"), 422, "alerts"),
        (lambda body: body.update(groupKey=""), 422, "groupKey"),
        (lambda body: body.update(status="pending"), 422, "status"),
        (lambda body: body["alerts"][0].update(status="bad"), 422, "alerts[0].status"),
        (lambda body: body["alerts"][0].update(labels={"a": 1}), 422, "alerts[0].labels.a"),
        (lambda body: body["alerts"][0].update(values=[1]), 422, "alerts[0].values"),
        (lambda body: body.update(truncatedAlerts=-1), 422, "truncatedAlerts"),
    ],
)
def test_a_malformed_unified_body_names_the_field(change, status, field):
    body = grafana_notification(grafana_alert("web-1"))
    change(body)
    with pytest.raises(IntakeError) as refused:
        parse_grafana(body)
    assert (refused.value.status, refused.value.field) == (status, field)


@pytest.mark.parametrize(
    "body, field",
    [([1], None), ({"state": "alerting"}, "ruleName"), ({"ruleName": "x", "state": "firing"}, "state"),
     ({**legacy_grafana(), "evalMatches": {}}, "evalMatches"), ({**legacy_grafana(), "tags": []}, "tags")],
)
def test_a_malformed_legacy_body_names_the_field(body, field):
    with pytest.raises(IntakeError) as refused:
        parse_grafana(body)
    assert refused.value.field == field


def test_ackbot_route_tells_grafana_and_oncall_samples_apart():
    assert detect_format(grafana_notification(grafana_alert("web-1"))) == "grafana"
    assert detect_format(legacy_grafana()) == "grafana"
    assert detect_format(formatted_webhook()) == "oncall-formatted-webhook"
    assert parse_sample(grafana_notification(grafana_alert("web-1", "critical")), "grafana").priority == Priority.CRITICAL
    assert parse_sample({"title": "Backup failed"}, "oncall-webhook").title == "Backup failed"
