"""Prometheus Alertmanager's webhook (payload version "4"), parsed and validated. Pure."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from incidents.intake import fields, severity
from incidents.intake.fields import (
    DEDUP_KEY_MAX,
    GROUP_ALERTS_MAX,
    SERVICE_MAX,
    TITLE_MAX,
    AlertGroup,
    GroupAlert,
    IntakeError,
    TriggerRequest,
)
from storage.enums import Priority

_ALERT_STATUSES = ("firing", "resolved")
_FALLBACK_GROUP_TITLE = "Alertmanager alert group"
# How long one alert's line in the incident body may be.
_LINE_MAX = 500


@dataclass(frozen=True)
class AlertmanagerGroup:
    """One Alertmanager notification about an alert group. ``firing``: some alert in it fires;
    ``resolved_all``: the group as a whole is resolved; ``trigger`` carries the dedup key
    shared by every notification about this group, and the group's alerts by fingerprint."""

    group_key: str
    firing: bool
    resolved_all: bool
    firing_count: int
    trigger: TriggerRequest


@dataclass(frozen=True)
class _Alert:
    firing: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    dashboard_url: str
    fingerprint: str

    @property
    def priority(self) -> Priority:
        return severity.priority_of(self.labels.get("severity")) or severity.DEFAULT_PRIORITY


def parse_alertmanager(data: object) -> AlertmanagerGroup:
    """An Alertmanager webhook payload (version "4") as an AlertmanagerGroup.

    The payload's structure is validated strictly; the text Alertmanager's templates produce
    (summary, descriptions) is clipped to fit rather than refused, so a long annotation never
    loses a page. Fields Ackbot does not use are ignored, as later Alertmanagers may add some."""
    payload = fields.json_object(data)
    if payload.get("version") != "4":
        raise IntakeError("version", 'must be "4"')
    group_key = payload.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise IntakeError("groupKey", "must be a non-empty string")
    status = _alert_status(payload.get("status"), "status")
    alerts = _alerts(payload.get("alerts"))
    firing_count = sum(alert.firing for alert in alerts)
    return AlertmanagerGroup(
        group_key=group_key,
        firing=firing_count > 0,
        resolved_all=status == "resolved",
        firing_count=firing_count,
        trigger=_group_trigger(payload, group_key, alerts),
    )


def _alert_status(value: object, field: str) -> str:
    if value not in _ALERT_STATUSES:
        raise IntakeError(field, 'must be "firing" or "resolved"')
    return value


def _alerts(value: object) -> list[_Alert]:
    if not isinstance(value, list):
        raise IntakeError("alerts", "must be a list")
    return [_alert(item, f"alerts[{index}]") for index, item in enumerate(value)]


def _alert(item: object, path: str) -> _Alert:
    if not isinstance(item, dict):
        raise IntakeError(path, "must be an object")
    labels = fields.string_map(item.get("labels"), f"{path}.labels", required=True)
    return _Alert(
        firing=_alert_status(item.get("status"), f"{path}.status") == "firing",
        labels=labels,
        annotations=fields.string_map(item.get("annotations"), f"{path}.annotations"),
        generator_url=fields.optional_string(item.get("generatorURL"), f"{path}.generatorURL"),
        dashboard_url=fields.optional_string(item.get("dashboardURL"), f"{path}.dashboardURL"),
        fingerprint=fields.fingerprint(item.get("fingerprint"), labels, f"{path}.fingerprint"),
    )


def _truncated_count(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntakeError("truncatedAlerts", "must be a non-negative integer")
    return value


def _group_trigger(payload: dict, group_key: str, alerts: list[_Alert]) -> TriggerRequest:
    labels = fields.string_map(payload.get("commonLabels"), "commonLabels")
    annotations = fields.string_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_labels = fields.string_map(payload.get("groupLabels"), "groupLabels")
    # Checked for its shape only: it is Alertmanager's own address, not a link to what is wrong.
    fields.optional_string(payload.get("externalURL"), "externalURL")
    firing = [alert for alert in alerts if alert.firing]
    worst = min(firing, key=lambda alert: severity.PRIORITY_ORDER.index(alert.priority), default=None)
    routing_labels = dict(labels)
    if worst is not None and "severity" in worst.labels:
        routing_labels["severity"] = worst.labels["severity"]
    return TriggerRequest(
        title=_group_title(annotations, labels, group_labels),
        priority=worst.priority if worst else severity.priority_of(labels.get("severity")) or severity.DEFAULT_PRIORITY,
        service=fields.clip((labels.get("service") or labels.get("job") or "").strip(), SERVICE_MAX),
        team=fields.team(labels.get("team")),
        dedup_key=_group_dedup_key(group_key),
        dashboard_url=_group_dashboard_url(firing or alerts),
        labels=routing_labels,
        group=_alert_group(alerts, _truncated_count(payload.get("truncatedAlerts"))),
    )


def _group_title(annotations: dict, labels: dict, group_labels: dict) -> str:
    candidates = (
        annotations.get("summary", ""),
        labels.get("alertname", ""),
        ", ".join(group_labels.values()),
    )
    cleaned = (fields.without_controls(text).strip() for text in candidates)
    return fields.clip(next((text for text in cleaned if text), _FALLBACK_GROUP_TITLE), TITLE_MAX)


def _alert_group(alerts: list[_Alert], truncated: int) -> AlertGroup:
    kept = alerts[:GROUP_ALERTS_MAX]
    return AlertGroup(
        alerts=tuple(GroupAlert(alert.fingerprint, alert.firing, _alert_line(alert), alert.priority) for alert in kept),
        left_out=truncated + len(alerts) - len(kept),
    )


def _alert_line(alert: _Alert) -> str:
    """``[severity] alertname instance: description (runbook: URL)``, on one line."""
    name = " ".join(filter(None, (alert.labels.get("alertname"), alert.labels.get("instance")))) or "alert"
    level = alert.labels.get("severity", "").strip()
    detail = alert.annotations.get("description") or alert.annotations.get("summary") or alert.annotations.get("message")
    line = f"[{level}] {name}" if level else name
    if detail:
        line += f": {detail}"
    runbook = alert.annotations.get("runbook_url", "")
    if fields.is_web_url(runbook):
        line += f" (runbook: {runbook})"
    return fields.clip(" ".join(fields.without_controls(line).split()), _LINE_MAX)


def _group_dashboard_url(alerts: list[_Alert]) -> str | None:
    """The first link any alert has: Grafana's ``dashboardURL``, Prometheus' ``generatorURL``,
    then a ``runbook_url`` annotation. (``externalURL`` is Alertmanager itself: not a link to
    what is wrong.)"""
    candidates = (
        *(alert.dashboard_url for alert in alerts),
        *(alert.generator_url for alert in alerts),
        *(alert.annotations.get("runbook_url", "") for alert in alerts),
    )
    return next((url for url in candidates if fields.is_web_url(url)), None)


def _group_dedup_key(group_key: str) -> str:
    key = "alertmanager:" + group_key
    if len(key) <= DEDUP_KEY_MAX:
        return key
    # Deep routing trees and many group_by labels make group keys longer than the dedup_key
    # column; a digest stays the same for every notification about the group, which is all
    # deduplication needs.
    return "alertmanager:sha256:" + hashlib.sha256(group_key.encode()).hexdigest()
