"""Grafana's webhook contact point, parsed and validated. Pure.

Two bodies reach ``POST /webhooks/grafana``:

- Grafana Alerting (8 and later, unified alerting): Alertmanager's envelope with ``version`` "1",
  ``orgId``, ``title``, ``state`` (alerting | ok), ``message``, and per alert ``fingerprint``,
  ``dashboardURL``, ``panelURL``, ``silenceURL``, ``values`` (``valueString`` before Grafana 10),
  ``imageURL``. One notification is about one group (``groupKey``); its alerts join and resolve
  by fingerprint.
- Legacy Grafana alerting (7 and earlier): ``ruleId``, ``ruleName``, ``ruleUrl``, ``state``
  (alerting | ok | no_data | paused | pending), ``title``, ``message``, ``imageUrl``,
  ``evalMatches[{metric, value, tags}]``, ``tags``. One incident per rule.

Structure is validated; text is clipped rather than refused, and fields Ackbot does not use are
ignored, so a Grafana upgrade that adds some does not lose a page.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from incidents.intake import fields, severity
from incidents.intake.fields import (
    BODY_MAX,
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
_STATE_STATUS = {"alerting": "firing", "ok": "resolved"}
_LEGACY_FIRING = ("alerting", "no_data")
_LEGACY_IGNORED = ("paused", "pending")
_LINE_MAX = 500
_VALUES_SHOWN = 10


@dataclass(frozen=True)
class Signal:
    """What one notification (Grafana's, or one alert group of an OnCall body) asks for: ``firing`` triggers (or updates) the incident
    with ``trigger.dedup_key``; otherwise ``resolved`` resolves it; neither (a legacy rule
    paused or pending) changes nothing."""

    firing: bool
    resolved: bool
    trigger: TriggerRequest


@dataclass(frozen=True)
class GrafanaAlert:
    firing: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str
    links: tuple[str, ...]  # panel, dashboard, rule (generatorURL), runbook: the first valid one is used
    silence_url: str
    image_url: str
    values: str

    @property
    def priority(self) -> Priority:
        return severity.priority_of(self.labels.get("severity")) or severity.DEFAULT_PRIORITY

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def parse_grafana(data: object) -> Signal:
    """A Grafana webhook body, unified (it has ``alerts``) or legacy."""
    payload = fields.json_object(data)
    if "alerts" in payload:
        return unified_notification(payload, parse_alerts(payload), group_dedup_key(payload))
    return parse_legacy(payload)


# --- Grafana Alerting ------------------------------------------------------------------------


def parse_alerts(payload: dict) -> list[GrafanaAlert]:
    value = payload.get("alerts")
    if not isinstance(value, list):
        raise IntakeError("alerts", "must be a list")
    return [_alert(item, f"alerts[{index}]") for index, item in enumerate(value)]


def group_dedup_key(payload: dict) -> str:
    """``grafana:{orgId}:{groupKey}``: every notification about one group in one organisation."""
    group_key = payload.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise IntakeError("groupKey", "must be a non-empty string")
    org = payload.get("orgId")
    scope = f"{org}:" if isinstance(org, int) and not isinstance(org, bool) else ""
    return bounded_key("grafana:" + scope, group_key)


def bounded_key(prefix: str, text: str) -> str:
    """``prefix + text``, or a digest of ``text`` when that would not fit a dedup key."""
    key = prefix + text
    if len(key) <= DEDUP_KEY_MAX:
        return key
    return prefix + "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def unified_notification(payload: dict, alerts: list[GrafanaAlert], dedup_key: str) -> Signal:
    """The notification about ``alerts`` (all of a group, or the part OnCall groups together)."""
    status = _status(payload)
    common = fields.string_map(payload.get("commonLabels"), "commonLabels")
    annotations = fields.string_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_labels = fields.string_map(payload.get("groupLabels"), "groupLabels")
    grafana_title = fields.optional_string(payload.get("title"), "title")
    firing = [alert for alert in alerts if alert.firing]
    shown = firing or alerts
    worst = min(firing, key=lambda alert: severity.PRIORITY_ORDER.index(alert.priority), default=None)
    labels = dict(common)
    if worst is not None and "severity" in worst.labels:
        labels["severity"] = worst.labels["severity"]
    trigger = TriggerRequest(
        title=first_text((annotations.get("summary"), common.get("alertname"), *(alert.name for alert in shown),
                          grafana_title, ", ".join(group_labels.values())), "Grafana alert"),
        body=_preface(shown),
        priority=worst.priority if worst else severity.priority_of(common.get("severity")) or severity.DEFAULT_PRIORITY,
        service=fields.clip((common.get("service") or common.get("grafana_folder") or "").strip(), SERVICE_MAX),
        team=fields.team(common.get("team")),
        dedup_key=dedup_key,
        dashboard_url=first_link(link for alert in shown for link in alert.links),
        labels=labels,
        group=_group(alerts, _truncated(payload.get("truncatedAlerts"))),
    )
    # A group with no alert firing is over, whatever the envelope's status (OnCall's split groups).
    resolved = not firing and (bool(alerts) or status == "resolved")
    return Signal(firing=bool(firing), resolved=resolved, trigger=trigger)


def _status(payload: dict) -> str:
    status = payload.get("status")
    if status is None and payload.get("state") in _STATE_STATUS:
        return _STATE_STATUS[payload["state"]]
    if status not in _ALERT_STATUSES:
        raise IntakeError("status", 'must be "firing" or "resolved"')
    return status


def _alert(item: object, path: str) -> GrafanaAlert:
    if not isinstance(item, dict):
        raise IntakeError(path, "must be an object")
    status = item.get("status")
    if status not in _ALERT_STATUSES:
        raise IntakeError(f"{path}.status", 'must be "firing" or "resolved"')
    labels = fields.string_map(item.get("labels"), f"{path}.labels", required=True)
    annotations = fields.string_map(item.get("annotations"), f"{path}.annotations")

    def text(name: str) -> str:
        return fields.optional_string(item.get(name), f"{path}.{name}")

    return GrafanaAlert(
        firing=status == "firing",
        labels=labels,
        annotations=annotations,
        fingerprint=fields.fingerprint(item.get("fingerprint"), labels, f"{path}.fingerprint"),
        links=(text("panelURL"), text("dashboardURL"), text("generatorURL"), annotations.get("runbook_url", "")),
        silence_url=text("silenceURL"),
        image_url=text("imageURL"),
        values=_values(item.get("values"), f"{path}.values") or text("valueString"),
    )


def _values(value: object, field: str) -> str:
    """``B=44.24, C=1``: the rule's query and expression results."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise IntakeError(field, "must be an object")
    numbers = [(name, number) for name, number in value.items()
               if isinstance(number, int | float) and not isinstance(number, bool)]
    return ", ".join(f"{name}={number:.6g}" for name, number in numbers[:_VALUES_SHOWN])


def _truncated(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntakeError("truncatedAlerts", "must be a non-negative integer")
    return value


def _preface(alerts: list[GrafanaAlert]) -> str:
    """Where to silence the alerts and their image: the links the alert list does not carry."""
    lines = []
    silence = first_link(alert.silence_url for alert in alerts)
    if silence:
        lines.append(f"Silence in Grafana: {silence}")
    image = first_link(alert.image_url for alert in alerts)
    if image:
        lines.append(f"Image: {image}")
    return "\n".join(lines)


def _group(alerts: list[GrafanaAlert], truncated: int) -> AlertGroup:
    kept = alerts[:GROUP_ALERTS_MAX]
    return AlertGroup(
        alerts=tuple(GroupAlert(alert.fingerprint, alert.firing, _line(alert), alert.priority) for alert in kept),
        left_out=truncated + len(alerts) - len(kept),
    )


def _line(alert: GrafanaAlert) -> str:
    """``[severity] alertname instance: description (B=44.2, C=1)``, on one line."""
    name = " ".join(filter(None, (alert.name, alert.labels.get("instance")))) or "alert"
    level = alert.labels.get("severity", "").strip()
    line = f"[{level}] {name}" if level else name
    detail = alert.annotations.get("description") or alert.annotations.get("summary")
    if detail:
        line += f": {detail}"
    if alert.values:
        line += f" ({alert.values})"
    return fields.clip(" ".join(fields.without_controls(line).split()), _LINE_MAX)


# --- legacy Grafana alerting -----------------------------------------------------------------


def parse_legacy(payload: dict, dedup_key: str | None = None) -> Signal:
    """A legacy (Grafana 7 and earlier) body: one incident per rule (``dedup_key`` replaces the
    rule's own key), resolved by state "ok"."""
    state = payload.get("state")
    if state not in (*_LEGACY_FIRING, "ok", *_LEGACY_IGNORED):
        raise IntakeError("state", "must be one of alerting, ok, no_data, paused, pending")
    rule_name = fields.optional_string(payload.get("ruleName"), "ruleName")
    title = fields.optional_string(payload.get("title"), "title")
    if not (rule_name.strip() or title.strip()):
        raise IntakeError("ruleName", "required (or title)")
    return Signal(
        firing=state in _LEGACY_FIRING,
        resolved=state == "ok",
        trigger=legacy_trigger(payload, dedup_key or legacy_dedup_key(payload, rule_name or title)),
    )


def legacy_dedup_key(payload: dict, rule_name: str) -> str:
    """By rule id when Grafana gives one (0 is its test notification), else by rule name."""
    rule_id = payload.get("ruleId")
    if isinstance(rule_id, int) and not isinstance(rule_id, bool) and rule_id > 0:
        return f"grafana-legacy:rule-id:{rule_id}"
    return bounded_key("grafana-legacy:rule:", rule_name.strip())


def legacy_trigger(payload: dict, dedup_key: str) -> TriggerRequest:
    tags = _tags(payload.get("tags"))
    rule_name = fields.optional_string(payload.get("ruleName"), "ruleName")
    state = payload.get("state")
    title = first_text((rule_name, fields.optional_string(payload.get("title"), "title")), "Grafana alert")
    if state == "no_data":
        title = fields.clip(f"No data: {title}", TITLE_MAX)
    lines = [fields.optional_string(payload.get("message"), "message").strip()]
    lines += _eval_match_lines(payload.get("evalMatches"))
    image = fields.optional_string(payload.get("imageUrl"), "imageUrl")
    if fields.is_web_url(image):
        lines.append(f"Image: {image}")
    return TriggerRequest(
        title=title,
        body=fields.clip("\n".join(line for line in lines if line), BODY_MAX),
        priority=severity.priority_of(tags.get("severity")) or severity.DEFAULT_PRIORITY,
        service=fields.clip(tags.get("service", "").strip(), SERVICE_MAX),
        team=fields.team(tags.get("team")),
        dedup_key=dedup_key,
        dashboard_url=first_link((fields.optional_string(payload.get("ruleUrl"), "ruleUrl"),)),
        labels={**tags, "alertname": rule_name} if rule_name else tags,
    )


def _tags(value: object) -> dict[str, str]:
    """Legacy rule tags: an object of strings (Grafana sends null when there are none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IntakeError("tags", "must be an object")
    return {str(name): str(item) for name, item in value.items() if isinstance(item, str | int | float)}


def _eval_match_lines(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise IntakeError("evalMatches", "must be a list")
    lines = []
    for index, match in enumerate(value[:_VALUES_SHOWN]):
        if not isinstance(match, dict):
            raise IntakeError(f"evalMatches[{index}]", "must be an object")
        metric = fields.optional_string(match.get("metric"), f"evalMatches[{index}].metric") or "value"
        lines.append(fields.clip(fields.without_controls(f"{metric}: {match.get('value')}"), _LINE_MAX))
    return lines


# --- shared ----------------------------------------------------------------------------------


def first_text(candidates, fallback: str) -> str:
    """The first non-blank candidate, cleaned to one title line."""
    cleaned = (" ".join(fields.without_controls(text).split()) for text in candidates if isinstance(text, str))
    return fields.clip(next((text for text in cleaned if text), fallback), TITLE_MAX)


def first_link(candidates) -> str | None:
    return next((url for url in candidates if url and fields.is_web_url(url)), None)
