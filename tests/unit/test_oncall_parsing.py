"""Bodies sent to Grafana OnCall's integration URLs, grouped and resolved as OnCall's integration
templates do. Pure."""
from __future__ import annotations

import pytest

from incidents.intake import IntakeError
from incidents.intake.oncall import parse_oncall
from storage.enums import Priority
from tests.grafana_payloads import GROUP_KEY, formatted_webhook, grafana_alert, grafana_notification, legacy_grafana

ALERTMANAGER_BODY = {
    "receiver": "oncall", "status": "firing", "version": "4", "groupKey": '{}:{alertname="DiskFull"}',
    "truncatedAlerts": 0, "externalURL": "http://alertmanager:9093",
    "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
    "commonAnnotations": {"summary": "Disk full"},
    "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1"},
                "annotations": {"summary": "Disk full"}, "startsAt": "2026-11-28T13:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": "1a2b3c4d5e6f7a8b"}],
}


@pytest.mark.parametrize("integration", ["alertmanager", "grafana_alerting"])
def test_alertmanager_and_grafana_alerting_group_by_group_key(integration):
    [alertmanager] = parse_oncall(integration, ALERTMANAGER_BODY, "3")
    assert alertmanager.firing and alertmanager.trigger.dedup_key == 'alertmanager:{}:{alertname="DiskFull"}'
    [grafana] = parse_oncall(integration, grafana_notification(grafana_alert("web-1")), "3")
    assert grafana.firing and grafana.trigger.dedup_key == f"grafana:1:{GROUP_KEY}"
    [resolved] = parse_oncall(integration, {**ALERTMANAGER_BODY, "status": "resolved", "alerts": [
        {**ALERTMANAGER_BODY["alerts"][0], "status": "resolved"}]}, "3")
    assert (resolved.firing, resolved.resolved) == (False, True)


def test_the_grafana_integration_groups_unified_alerts_by_alertname():
    other = grafana_alert("db-1", status="resolved")
    other["labels"]["alertname"] = "Disk full"
    body = grafana_notification(grafana_alert("web-1"), grafana_alert("web-2", status="resolved"), other)
    high_cpu, disk = parse_oncall("grafana", body, "3")
    assert (high_cpu.firing, high_cpu.trigger.dedup_key) == (True, "oncall:3:grafana:High CPU")
    assert len(high_cpu.trigger.group.alerts) == 2
    assert (disk.firing, disk.resolved, disk.trigger.dedup_key) == (False, True, "oncall:3:grafana:Disk full")


def test_the_grafana_integration_groups_legacy_alerts_by_rule_name():
    [firing] = parse_oncall("grafana", legacy_grafana("alerting"), "3")
    assert (firing.firing, firing.trigger.dedup_key) == (True, "oncall:3:grafana:High CPU")
    [ok] = parse_oncall("grafana", legacy_grafana("ok"), "3")
    assert (ok.resolved, ok.trigger.dedup_key) == (True, "oncall:3:grafana:High CPU")


def test_a_webhook_groups_by_alert_uid_then_title_then_the_whole_body():
    [by_uid] = parse_oncall("webhook", {"alert_uid": 42, "title": "Backup failed", "url": "https://ci.example.com/7"}, "3")
    trigger = by_uid.trigger
    assert (trigger.dedup_key, trigger.title, trigger.dashboard_url) == ("oncall:3:webhook:42", "Backup failed", "https://ci.example.com/7")
    assert '"alert_uid": 42' in trigger.body
    [by_title] = parse_oncall("webhook", {"title": "Backup failed", "severity": "critical", "team": "Platform"}, "3")
    assert (by_title.trigger.dedup_key, by_title.trigger.priority, by_title.trigger.team) == (
        "oncall:3:webhook:Backup failed", Priority.CRITICAL, "Platform")
    [first] = parse_oncall("webhook", {"message": "something broke\nmore"}, "3")
    [same] = parse_oncall("webhook", {"message": "something broke\nmore"}, "3")
    [other_key] = parse_oncall("webhook", {"message": "something broke\nmore"}, "4")
    assert first.trigger.title == "something broke"
    assert first.trigger.dedup_key == same.trigger.dedup_key != other_key.trigger.dedup_key


@pytest.mark.parametrize("body", [{"title": "Backup failed", "state": "ok"}, {"title": "Backup failed", "state": "OK"},
                                  {"title": "Backup failed", "status": "resolved"}])
def test_a_webhook_resolves_on_state_ok_or_status_resolved(body):
    [signal] = parse_oncall("webhook", body, "3")
    assert (signal.firing, signal.resolved, signal.trigger.dedup_key) == (False, True, "oncall:3:webhook:Backup failed")


def test_a_webhook_takes_any_json():
    for body in ([1, 2], "text", {"title": {"nested": True}, "state": None}):
        [signal] = parse_oncall("webhook", body, "3")
        assert signal.firing and signal.trigger.title == "Webhook alert"


def test_a_formatted_webhook_groups_by_alert_uid_and_resolves_on_ok():
    [firing] = parse_oncall("formatted_webhook", formatted_webhook(), "3")
    trigger = firing.trigger
    assert trigger.title == "TestAlert: The whole system is down"
    assert trigger.dedup_key == "oncall:3:formatted_webhook:08d6891a-835c-e661-39fa-96b6a9e26552"
    assert trigger.dashboard_url == "https://en.wikipedia.org/wiki/Downtime"
    assert trigger.body.splitlines()[-1].startswith("Image: https://upload.wikimedia.org/")
    [ok] = parse_oncall("formatted_webhook", formatted_webhook("ok"), "3")
    assert (ok.firing, ok.resolved, ok.trigger.dedup_key) == (False, True, trigger.dedup_key)


def test_a_formatted_webhook_refuses_a_field_that_is_not_text():
    with pytest.raises(IntakeError) as refused:
        parse_oncall("formatted_webhook", {**formatted_webhook(), "title": ["x"]}, "3")
    assert (refused.value.status, refused.value.field) == (422, "title")
    with pytest.raises(IntakeError) as refused:
        parse_oncall("formatted_webhook", [1], "3")
    assert refused.value.status == 400
