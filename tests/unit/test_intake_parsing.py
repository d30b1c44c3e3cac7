"""Intake parsing: the REST body and Alertmanager's webhook payload, good and bad."""
from __future__ import annotations

import copy

import pytest

from incidents.intake import (
    AlertmanagerGroup,
    IntakeError,
    TriggerRequest,
    parse_alertmanager,
    parse_incident_request,
)
from incidents.intake.fields import AlertGroup, GroupAlert
from storage.enums import Priority
from tests.fakes.alertmanager_payloads import ALERTMANAGER_0_25

# Shaped like what Alertmanager 0.27 posts for a group of two firing alerts.
ALERTMANAGER_FIRING = {
    "version": "4",
    "groupKey": '{}/{team="payments"}:{alertname="PostgresDown"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "ackbot",
    "groupLabels": {"alertname": "PostgresDown"},
    "commonLabels": {
        "alertname": "PostgresDown",
        "job": "postgres-exporter",
        "service": "payments-db",
        "severity": "critical",
        "team": "payments",
    },
    "commonAnnotations": {"summary": "Payments database primary is down"},
    "externalURL": "http://alertmanager.example.org:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "PostgresDown",
                "instance": "db-1:9187",
                "job": "postgres-exporter",
                "service": "payments-db",
                "severity": "critical",
                "team": "payments",
            },
            "annotations": {
                "summary": "Payments database primary is down",
                "description": "pg_up has been 0 on db-1:9187 for 2 minutes",
            },
            "startsAt": "2024-05-01T09:12:41.123Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=pg_up+%3D%3D+0&g0.tab=1",
            "fingerprint": "7b1e9c8a2f3d4e5a",
        },
        {
            "status": "firing",
            "labels": {
                "alertname": "PostgresDown",
                "instance": "db-2:9187",
                "job": "postgres-exporter",
                "service": "payments-db",
                "severity": "critical",
                "team": "payments",
            },
            "annotations": {"summary": "Payments database primary is down"},
            "startsAt": "2024-05-01T09:12:56.456Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=pg_up+%3D%3D+0&g0.tab=1",
            "fingerprint": "0c4d2e6f8a1b3c5d",
        },
    ],
}


def _resolved_payload() -> dict:
    payload = copy.deepcopy(ALERTMANAGER_FIRING)
    payload["status"] = "resolved"
    for alert in payload["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2024-05-01T09:30:11.789Z"
    return payload


def _with(base: dict, path: tuple, value) -> dict:
    """A deep copy of ``base`` with the value at ``path`` replaced, or removed when ``value`` is ``...``."""
    payload = copy.deepcopy(base)
    target = payload
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


# --- POST /api/v1/incidents ---------------------------------------------------------------


def test_minimal_request_takes_the_defaults():
    assert parse_incident_request({"title": "DB primary down"}) == TriggerRequest(title="DB primary down")


def test_full_request():
    request = parse_incident_request(
        {
            "title": "  DB primary down\n",
            "body": "pg_up == 0\n\tsince 09:12",
            "priority": "critical",
            "service": " payments ",
            "team": "payments-oncall",
            "dedup_key": "db-primary",
            "dashboard_url": "https://grafana.example.org/d/abc?orgId=1",
            "labels": {"namespace": "pay-eu", "service": "payments-api"},
        }
    )
    assert request == TriggerRequest(
        title="DB primary down",
        body="pg_up == 0\n\tsince 09:12",
        priority=Priority.CRITICAL,
        service="payments",
        team="payments-oncall",
        dedup_key="db-primary",
        dashboard_url="https://grafana.example.org/d/abc?orgId=1",
        labels={"namespace": "pay-eu", "service": "payments-api", "team": "payments-oncall"},
    )


def test_nulls_and_empty_optionals_count_as_absent():
    request = parse_incident_request(
        {"title": "x", "body": None, "priority": None, "team": "", "dedup_key": " ", "dashboard_url": None}
    )
    assert request == TriggerRequest(title="x")


@pytest.mark.parametrize("priority", ["info", "Low", "MEDIUM", " high "])
def test_priority_is_case_insensitive(priority):
    assert parse_incident_request({"title": "x", "priority": priority}).priority == priority.strip().upper()


@pytest.mark.parametrize("team", ["Payments Team", "payments.eu", "sre", " Payments-EU "])
def test_any_team_is_accepted_as_written_for_routing_to_place(team):
    assert parse_incident_request({"title": "x", "team": team}).team == team.strip()


def test_limits_are_inclusive():
    request = parse_incident_request(
        {
            "title": "t" * 500,
            "body": "b" * 20_000,
            "service": "s" * 200,
            "team": "t" * 100,
            "dedup_key": "d" * 255,
        }
    )
    assert len(request.title) == 500 and len(request.body) == 20_000


@pytest.mark.parametrize(
    "data, status, field",
    [
        (["title", "x"], 400, None),
        ("title", 400, None),
        (None, 400, None),
        ({}, 422, "title"),
        ({"title": None}, 422, "title"),
        ({"title": "   "}, 422, "title"),
        ({"title": 42}, 422, "title"),
        ({"title": True}, 422, "title"),
        ({"title": "t" * 501}, 422, "title"),
        ({"title": "bell\x07"}, 422, "title"),
        ({"title": "nul\x00"}, 422, "title"),
        ({"title": "x", "body": ["line"]}, 422, "body"),
        ({"title": "x", "body": "b" * 20_001}, 422, "body"),
        ({"title": "x", "priority": "urgent"}, 422, "priority"),
        ({"title": "x", "priority": 1}, 422, "priority"),
        ({"title": "x", "service": "s" * 201}, 422, "service"),
        ({"title": "x", "service": False}, 422, "service"),
        ({"title": "x", "labels": ["a"]}, 422, "labels"),
        ({"title": "x", "labels": {"a": 1}}, 422, "labels.a"),
        ({"title": "x", "team": "t" * 101}, 422, "team"),
        ({"title": "x", "team": 7}, 422, "team"),
        ({"title": "x", "dedup_key": "d" * 256}, 422, "dedup_key"),
        ({"title": "x", "dedup_key": {"a": 1}}, 422, "dedup_key"),
        ({"title": "x", "dashboard_url": "javascript:alert(1)"}, 422, "dashboard_url"),
        ({"title": "x", "dashboard_url": "ftp://example.org/x"}, 422, "dashboard_url"),
        ({"title": "x", "dashboard_url": "https://"}, 422, "dashboard_url"),
        ({"title": "x", "dashboard_url": "https://example.org/a b"}, 422, "dashboard_url"),
        ({"title": "x", "dashboard_url": "https://example.org/" + "a" * 2000}, 422, "dashboard_url"),
        ({"title": "x", "severity": "critical"}, 422, "severity"),
    ],
)
def test_bad_requests_name_the_field(data, status, field):
    with pytest.raises(IntakeError) as raised:
        parse_incident_request(data)
    assert (raised.value.status, raised.value.field) == (status, field)


def test_error_text_names_field_and_problem():
    with pytest.raises(IntakeError) as raised:
        parse_incident_request({})
    assert str(raised.value) == "title: required"


# --- POST /webhooks/alertmanager ----------------------------------------------------------


def test_alertmanager_0_25_group_of_mixed_severities():
    group = parse_alertmanager(ALERTMANAGER_0_25)
    assert isinstance(group, AlertmanagerGroup)
    assert (group.firing, group.resolved_all, group.firing_count) == (True, False, 2)
    assert group.trigger == TriggerRequest(
        title="PostgresDown is firing",
        priority=Priority.CRITICAL,
        service="postgres-exporter",
        team="payments",
        dedup_key='alertmanager:{}/{alertname=~".+"}:{alertname="PostgresDown"}',
        dashboard_url="http://prometheus.example:9090/graph?g0.expr=PostgresDown",
        labels={**ALERTMANAGER_0_25["commonLabels"], "severity": "critical"},
        group=AlertGroup((
            GroupAlert(
                "92e53858f5120b18", True,
                "[warning] PostgresDown db-1:9187: PostgresDown on db-1:9187 (runbook: https://runbooks.example.org/postgres-down)",
                Priority.MEDIUM,
            ),
            GroupAlert("202c1e1885f47d4c", True, "[critical] PostgresDown db-2:9187: PostgresDown on db-2:9187", Priority.CRITICAL),
        )),
    )


def test_alertmanager_resolved_group_keeps_the_dedup_key():
    group = parse_alertmanager(_resolved_payload())
    assert (group.firing, group.resolved_all, group.firing_count) == (False, True, 0)
    assert group.trigger.dedup_key == parse_alertmanager(ALERTMANAGER_FIRING).trigger.dedup_key
    assert [alert.firing for alert in group.trigger.group.alerts] == [False, False]


def test_alertmanager_partly_resolved_group_takes_priority_from_firing_alerts_only():
    payload = _with(ALERTMANAGER_0_25, ("alerts", 1, "status"), "resolved")
    group = parse_alertmanager(payload)
    assert (group.firing, group.resolved_all, group.firing_count) == (True, False, 1)
    assert group.trigger.priority == Priority.MEDIUM and group.trigger.labels["severity"] == "warning"
    assert [(alert.fingerprint, alert.firing) for alert in group.trigger.group.alerts] == [
        ("92e53858f5120b18", True), ("202c1e1885f47d4c", False)
    ]


@pytest.mark.parametrize(
    "severity, priority",
    [
        ("critical", Priority.CRITICAL),
        ("page", Priority.CRITICAL),
        ("P1", Priority.CRITICAL),
        ("error", Priority.HIGH),
        ("major", Priority.HIGH),
        ("high", Priority.HIGH),
        ("Warning", Priority.MEDIUM),
        ("minor", Priority.LOW),
        ("low", Priority.LOW),
        ("info", Priority.INFO),
        ("none", Priority.INFO),
        ("banana", Priority.HIGH),
        (..., Priority.HIGH),
    ],
)
def test_alertmanager_severity_sets_priority(severity, priority):
    payload = copy.deepcopy(ALERTMANAGER_FIRING)
    for alert in payload["alerts"]:
        if severity is ...:
            del alert["labels"]["severity"]
        else:
            alert["labels"]["severity"] = severity
    assert parse_alertmanager(payload).trigger.priority == priority


def test_alertmanager_title_falls_back_to_alertname_then_group_labels():
    no_summary = _with(ALERTMANAGER_FIRING, ("commonAnnotations",), {})
    assert parse_alertmanager(no_summary).trigger.title == "PostgresDown"
    no_alertname = _with(no_summary, ("commonLabels",), {"severity": "critical"})
    no_alertname["groupLabels"] = {"cluster": "eu-1", "namespace": "payments"}
    assert parse_alertmanager(no_alertname).trigger.title == "eu-1, payments"


def test_alertmanager_service_falls_back_to_job_and_team_is_optional():
    payload = _with(ALERTMANAGER_FIRING, ("commonLabels",), {"job": "node", "alertname": "DiskFull"})
    trigger = parse_alertmanager(payload).trigger
    assert (trigger.service, trigger.team) == ("node", None)


def test_alertmanager_dashboard_url_is_the_alerts_link_never_alertmanagers_own():
    assert parse_alertmanager(ALERTMANAGER_FIRING).trigger.dashboard_url.startswith("http://prometheus.example.org:9090/graph")
    payload = copy.deepcopy(ALERTMANAGER_FIRING)
    for alert in payload["alerts"]:
        alert["generatorURL"] = "file:///etc/passwd"
    assert parse_alertmanager(payload).trigger.dashboard_url is None
    payload["alerts"][1]["annotations"]["runbook_url"] = "https://runbooks.example.org/pg"
    assert parse_alertmanager(payload).trigger.dashboard_url == "https://runbooks.example.org/pg"
    payload["alerts"][0]["dashboardURL"] = "https://grafana.example.org/d/pg"
    assert parse_alertmanager(payload).trigger.dashboard_url == "https://grafana.example.org/d/pg"


def test_alertmanager_long_text_is_clipped_not_refused():
    payload = _with(ALERTMANAGER_FIRING, ("commonAnnotations", "summary"), "s" * 600)
    payload["alerts"] = [copy.deepcopy(payload["alerts"][0]) for _ in range(1200)]
    for index, alert in enumerate(payload["alerts"]):
        alert["annotations"]["description"] = "d\n" * 1000
        alert["fingerprint"] = f"f{index}"
    trigger = parse_alertmanager(payload).trigger
    assert len(trigger.title) == 500
    assert len(trigger.group.alerts) == 1000 and trigger.group.left_out == 200
    assert all(len(alert.line) <= 500 and "\n" not in alert.line for alert in trigger.group.alerts)


def test_alertmanager_truncated_alerts_are_counted_as_left_out():
    payload = _with(ALERTMANAGER_FIRING, ("truncatedAlerts",), 5)
    assert parse_alertmanager(payload).trigger.group.left_out == 5


def test_alertmanager_alerts_without_a_fingerprint_are_told_apart_by_their_labels():
    payload = copy.deepcopy(ALERTMANAGER_FIRING)
    for alert in payload["alerts"]:
        del alert["fingerprint"]
    first, second = parse_alertmanager(payload).trigger.group.alerts
    assert first.fingerprint != second.fingerprint
    assert first.fingerprint == parse_alertmanager(copy.deepcopy(payload)).trigger.group.alerts[0].fingerprint


def test_alertmanager_long_group_key_gets_a_stable_digest():
    payload = _with(ALERTMANAGER_FIRING, ("groupKey",), "{}:{" + "x" * 400 + "}")
    first = parse_alertmanager(payload).trigger.dedup_key
    assert len(first) <= 255 and first.startswith("alertmanager:sha256:")
    assert parse_alertmanager(copy.deepcopy(payload)).trigger.dedup_key == first


@pytest.mark.parametrize(
    "path, value, status, field",
    [
        ((), [], 400, None),
        (("version",), "3", 422, "version"),
        (("version",), 4, 422, "version"),
        (("version",), ..., 422, "version"),
        (("groupKey",), "", 422, "groupKey"),
        (("groupKey",), None, 422, "groupKey"),
        (("status",), "pending", 422, "status"),
        (("alerts",), ..., 422, "alerts"),
        (("alerts",), {"0": {}}, 422, "alerts"),
        (("alerts", 1), "firing", 422, "alerts[1]"),
        (("alerts", 1, "status"), "unknown", 422, "alerts[1].status"),
        (("alerts", 0, "status"), ..., 422, "alerts[0].status"),
        (("alerts", 1, "labels"), ["alertname"], 422, "alerts[1].labels"),
        (("alerts", 1, "labels"), ..., 422, "alerts[1].labels"),
        (("alerts", 0, "labels", "instance"), 9187, 422, "alerts[0].labels.instance"),
        (("alerts", 0, "annotations"), "down", 422, "alerts[0].annotations"),
        (("alerts", 0, "generatorURL"), 1, 422, "alerts[0].generatorURL"),
        (("commonLabels",), [], 422, "commonLabels"),
        (("alerts", 0, "fingerprint"), 7, 422, "alerts[0].fingerprint"),
        (("alerts", 0, "dashboardURL"), 7, 422, "alerts[0].dashboardURL"),
        (("commonAnnotations", "summary"), None, 422, "commonAnnotations.summary"),
        (("groupLabels",), "alertname", 422, "groupLabels"),
        (("externalURL",), 9093, 422, "externalURL"),
        (("truncatedAlerts",), -1, 422, "truncatedAlerts"),
        (("truncatedAlerts",), "2", 422, "truncatedAlerts"),
    ],
)
def test_bad_alertmanager_payloads_name_the_field(path, value, status, field):
    payload = value if not path else _with(ALERTMANAGER_FIRING, path, value)
    with pytest.raises(IntakeError) as raised:
        parse_alertmanager(payload)
    assert (raised.value.status, raised.value.field) == (status, field)


def test_alertmanager_team_label_is_kept_as_written():
    payload = _with(ALERTMANAGER_FIRING, ("commonLabels", "team"), "Payments Team")
    assert parse_alertmanager(payload).trigger.team == "Payments Team"


def test_alertmanager_ignores_fields_it_does_not_use():
    payload = _with(ALERTMANAGER_FIRING, ("orgId",), 1)
    payload["alerts"][0]["silenceURL"] = "https://grafana.example.org/alerting/silence/new"
    assert parse_alertmanager(payload).firing_count == 2
