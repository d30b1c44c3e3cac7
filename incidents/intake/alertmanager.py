"""Prometheus Alertmanager's webhook (payload version "4"), parsed and validated. Pure."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from incidents.intake import fields
from incidents.intake.fields import (
    BODY_MAX,
    DEDUP_KEY_MAX,
    SERVICE_MAX,
    TITLE_MAX,
    IntakeError,
    TriggerRequest,
)
from storage.enums import Priority

_ALERT_STATUSES = ("firing", "resolved")
_SEVERITY_PRIORITY = {
    "critical": Priority.CRITICAL,
    "error": Priority.HIGH,
    "high": Priority.HIGH,
    "page": Priority.HIGH,
    "warning": Priority.MEDIUM,
    "low": Priority.LOW,
    "info": Priority.INFO,
    "none": Priority.INFO,
}
_FALLBACK_GROUP_TITLE = "Alertmanager alert group"


@dataclass(frozen=True)
class AlertmanagerGroup:
    """One Alertmanager notification about an alert group. ``firing``: some alert in it fires;
    ``resolved_all``: the group as a whole is resolved; ``trigger`` carries the dedup key
    shared by every notification about this group."""

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
    return _Alert(
        firing=_alert_status(item.get("status"), f"{path}.status") == "firing",
        labels=fields.string_map(item.get("labels"), f"{path}.labels", required=True),
        annotations=fields.string_map(item.get("annotations"), f"{path}.annotations"),
        generator_url=fields.optional_string(item.get("generatorURL"), f"{path}.generatorURL"),
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
    external_url = fields.optional_string(payload.get("externalURL"), "externalURL")
    truncated = _truncated_count(payload.get("truncatedAlerts"))
    severity = labels.get("severity", "").strip().lower()
    return TriggerRequest(
        title=_group_title(annotations, labels, group_labels),
        body=fields.clip("\n".join(_group_body_lines(alerts, truncated)), BODY_MAX),
        priority=_SEVERITY_PRIORITY.get(severity, Priority.HIGH),
        service=fields.clip((labels.get("service") or labels.get("job") or "").strip(), SERVICE_MAX),
        team=fields.team(labels.get("team") or None, "commonLabels.team"),
        dedup_key=_group_dedup_key(group_key),
        dashboard_url=_group_dashboard_url(external_url, alerts),
    )


def _group_title(annotations: dict, labels: dict, group_labels: dict) -> str:
    candidates = (
        annotations.get("summary", ""),
        labels.get("alertname", ""),
        ", ".join(group_labels.values()),
    )
    cleaned = (fields.without_controls(text).strip() for text in candidates)
    return fields.clip(next((text for text in cleaned if text), _FALLBACK_GROUP_TITLE), TITLE_MAX)


def _group_body_lines(alerts: list[_Alert], truncated: int) -> list[str]:
    lines = []
    for alert in alerts:
        if not alert.firing:
            continue
        name = " ".join(filter(None, (alert.labels.get("alertname"), alert.labels.get("instance"))))
        name = name or "alert"
        detail = alert.annotations.get("description") or alert.annotations.get("summary")
        lines.append(f"- {name}: {detail}" if detail else f"- {name}")
    if truncated:
        lines.append(f"- … and {truncated} more alerts Alertmanager left out (max_alerts)")
    return lines


def _group_dashboard_url(external_url: str, alerts: list[_Alert]) -> str | None:
    candidates = (external_url, *(alert.generator_url for alert in alerts[:1]))
    return next((url for url in candidates if fields.is_web_url(url)), None)


def _group_dedup_key(group_key: str) -> str:
    key = "alertmanager:" + group_key
    if len(key) <= DEDUP_KEY_MAX:
        return key
    # Deep routing trees and many group_by labels make group keys longer than the dedup_key
    # column; a digest stays the same for every notification about the group, which is all
    # deduplication needs.
    return "alertmanager:sha256:" + hashlib.sha256(group_key.encode()).hexdigest()
