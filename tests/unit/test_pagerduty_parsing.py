"""PagerDuty Events API v2 events as real senders post them (Alertmanager 0.25's
``pagerduty_configs``, pdpyras, Kibana's PagerDuty connector), and the invalid ones PagerDuty
refuses."""
from __future__ import annotations

import copy

import pytest

from incidents.intake import IntakeError
from incidents.intake.pagerduty import parse_event
from storage.enums import Priority

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
GROUP_HASH = "9f2b5d0c4c1e8a3b6f7d2e1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"

# What Alertmanager 0.25 posts with `pagerduty_configs: [{routing_key, url, severity: critical}]`:
# summary from its default subject template, details its four defaults, client_url its alert view.
ALERTMANAGER_TRIGGER = {
    "routing_key": ROUTING_KEY,
    "dedup_key": GROUP_HASH,
    "event_action": "trigger",
    "payload": {
        "summary": "[FIRING:2] PostgresDown (payments critical)",
        "source": "Alertmanager",
        "severity": "critical",
        "custom_details": {
            "firing": "Labels:\n - alertname = PostgresDown\n - instance = db-1\nAnnotations:\nSource: http://prom:9090/graph\n",
            "num_firing": "2",
            "num_resolved": "0",
            "resolved": "",
        },
    },
    "client": "Alertmanager",
    "client_url": "http://alertmanager.example:9093/#/alerts?receiver=pagerduty",
}


def _generated() -> str:
    return "generated0000000000000000000000k"


def parse(data, header=None):
    return parse_event(data, header, _generated)


def test_alertmanager_trigger():
    event = parse(ALERTMANAGER_TRIGGER)
    assert (event.routing_key, event.action, event.dedup_key, event.incident_key) == (
        ROUTING_KEY, "trigger", GROUP_HASH, GROUP_HASH,
    )
    trigger = event.trigger
    assert trigger.title == "[FIRING:2] PostgresDown (payments critical)"
    assert trigger.priority == Priority.CRITICAL
    assert trigger.dedup_key == GROUP_HASH
    assert trigger.dashboard_url == "http://alertmanager.example:9093/#/alerts?receiver=pagerduty"
    assert "Source: Alertmanager" in trigger.body and "num_firing: 2" in trigger.body
    assert "- instance = db-1" in trigger.body
    assert trigger.labels["severity"] == "critical" and trigger.labels["num_firing"] == "2"
    assert trigger.team is None


def test_alertmanager_resolve_carries_the_trigger_payload_which_is_ignored():
    resolve = {**copy.deepcopy(ALERTMANAGER_TRIGGER), "event_action": "resolve"}
    resolve["payload"]["summary"] = ""
    event = parse(resolve)
    assert (event.action, event.incident_key, event.trigger) == ("resolve", GROUP_HASH, None)


def test_pdpyras_trigger_without_dedup_key_gets_a_generated_one():
    event = parse({
        "event_action": "trigger",
        "routing_key": ROUTING_KEY,
        "payload": {"summary": "Disk at 99% on web-01", "source": "web-01", "severity": "warning",
                    "custom_details": {"free space": "1%", "load avg": 0.75, "team": "Payments Team"}},
        "images": [{"src": "https://chart.example/x.png", "href": "https://grafana.example/d/disk", "alt": "disk"}],
    })
    assert event.dedup_key == event.incident_key == _generated()
    assert event.trigger.dedup_key == _generated()
    assert event.trigger.priority == Priority.MEDIUM
    assert event.trigger.team == "Payments Team"
    assert event.trigger.dashboard_url == "https://grafana.example/d/disk"
    assert "load avg: 0.75" in event.trigger.body


def test_grafana_contact_point_trigger():
    """Grafana's PagerDuty contact point: its defaults for class, component and group, a link to
    Grafana itself and images without an href."""
    event = parse({
        "routing_key": ROUTING_KEY, "dedup_key": GROUP_HASH, "event_action": "trigger",
        "payload": {"summary": "[FIRING:1] HighLatency api (platform)", "source": "grafana-01", "severity": "warning",
                    "class": "default", "component": "Grafana", "group": "default",
                    "custom_details": {"firing": "Value: B=1.2\nLabels:\n - alertname = HighLatency\n",
                                       "num_firing": "1", "num_resolved": "0", "resolved": ""}},
        "client": "Grafana", "client_url": "http://grafana.example:3000/",
        "links": [{"href": "http://grafana.example:3000/", "text": "External URL"}],
        "images": [{"src": "https://grafana.example:3000/public/img/attachments/a.png"}],
    })
    trigger = event.trigger
    assert (trigger.priority, trigger.service) == (Priority.MEDIUM, "Grafana")
    assert trigger.dashboard_url == "http://grafana.example:3000/"
    assert "External URL" not in trigger.body and "Value: B=1.2" in trigger.body


def test_kibana_sends_the_routing_key_in_a_header_and_links():
    body = {
        "event_action": "trigger",
        "dedup_key": "kibana-rule-42",
        "payload": {"summary": "Error rate above 5%", "source": "Kibana Action 3f1c", "severity": "info",
                    "timestamp": "2026-12-01T10:00:00.000Z", "component": "checkout", "group": "shop",
                    "class": "error-rate"},
        "links": [{"href": "https://kibana.example/app/discover#/view/1", "text": "Discover"},
                  {"href": "https://runbooks.example/error-rate", "text": "Runbook"}],
    }
    event = parse(body, header=ROUTING_KEY)
    assert event.routing_key == ROUTING_KEY
    trigger = event.trigger
    assert (trigger.priority, trigger.service) == (Priority.INFO, "checkout")
    assert trigger.dashboard_url == "https://kibana.example/app/discover#/view/1"
    assert "Runbook: https://runbooks.example/error-rate" in trigger.body
    assert trigger.labels == {"source": "Kibana Action 3f1c", "component": "checkout", "group": "shop",
                              "class": "error-rate", "severity": "info"}
    assert parse({"event_action": "resolve", "dedup_key": "kibana-rule-42"}, header=ROUTING_KEY).trigger is None


@pytest.mark.parametrize("severity, priority", [
    ("critical", Priority.CRITICAL), ("error", Priority.HIGH), ("Warning", Priority.MEDIUM),
    ("info", Priority.INFO), ("major", Priority.HIGH), ("whatever", Priority.HIGH), (None, Priority.HIGH),
])
def test_severity_maps_to_priority_and_an_unknown_one_still_pages(severity, priority):
    body = copy.deepcopy(ALERTMANAGER_TRIGGER)
    body["payload"]["severity"] = severity
    assert parse(body).trigger.priority == priority


def test_a_long_dedup_key_is_answered_as_given_and_stored_as_a_digest():
    long_key = "k" * 300
    trigger = parse({**ALERTMANAGER_TRIGGER, "dedup_key": long_key})
    resolve = parse({"event_action": "resolve", "routing_key": ROUTING_KEY, "dedup_key": long_key})
    assert trigger.dedup_key == long_key
    assert trigger.incident_key == resolve.incident_key == trigger.trigger.dedup_key
    assert trigger.incident_key.startswith("pagerduty:sha256:") and len(trigger.incident_key) <= 255


def test_a_long_summary_is_clipped():
    body = copy.deepcopy(ALERTMANAGER_TRIGGER)
    body["payload"]["summary"] = "x" * 1024
    assert len(parse(body).trigger.title) == 500


@pytest.mark.parametrize("body, field", [
    ([ALERTMANAGER_TRIGGER], None),
    ({**ALERTMANAGER_TRIGGER, "routing_key": ""}, "routing_key"),
    ({**ALERTMANAGER_TRIGGER, "routing_key": 12}, "routing_key"),
    ({**ALERTMANAGER_TRIGGER, "event_action": "escalate"}, "event_action"),
    ({k: v for k, v in ALERTMANAGER_TRIGGER.items() if k != "event_action"}, "event_action"),
    ({"event_action": "acknowledge", "routing_key": ROUTING_KEY}, "dedup_key"),
    ({"event_action": "trigger", "routing_key": ROUTING_KEY}, "payload"),
    ({**ALERTMANAGER_TRIGGER, "payload": {"source": "x", "severity": "info"}}, "payload.summary"),
    ({**ALERTMANAGER_TRIGGER, "payload": {"summary": ["x"]}}, "payload.summary"),
    ({**ALERTMANAGER_TRIGGER, "dedup_key": 42}, "dedup_key"),
    ({**ALERTMANAGER_TRIGGER, "links": {"href": "https://x.example"}}, "links"),
    ({**ALERTMANAGER_TRIGGER, "images": ["https://x.example/a.png"]}, "images"),
])
def test_invalid_events_are_refused_with_400_naming_the_field(body, field):
    with pytest.raises(IntakeError) as refused:
        parse(body)
    assert (refused.value.field, refused.value.status) == (field, 400)
