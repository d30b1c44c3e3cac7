"""Bodies sent to Grafana OnCall's integration URLs (``/integrations/v1/{integration}/{key}/``),
as signals grouped and resolved the way OnCall's integration templates do. Pure.

- ``alertmanager``, ``grafana_alerting``: grouped by ``groupKey``, resolved when the group's
  ``status`` is "resolved" (Alertmanager's version "4" body, or Grafana's version "1").
- ``grafana``: a Grafana Alerting body is grouped by ``alertname``, each group resolved when none
  of its alerts fires; a legacy body by ``ruleName``, resolved when ``state`` is "ok".
- ``webhook``: any JSON, grouped by ``alert_uid``, else ``title``, else the whole body; resolved
  when ``state`` is "ok" (any case) or ``status`` is "resolved"; link from ``url``.
- ``formatted_webhook``: ``{alert_uid, title, message, image_url, link_to_upstream_details,
  state}``, grouped by ``alert_uid``, resolved when ``state`` is "ok" (any case).

Groups of the webhook kinds and of ``grafana`` are kept apart per integration key (``scope``), as
OnCall keeps them per integration.
"""
from __future__ import annotations

import hashlib
import json

from incidents.intake import fields, severity
from incidents.intake.alertmanager import parse_alertmanager
from incidents.intake.fields import BODY_MAX, SERVICE_MAX, IntakeError, TriggerRequest
from incidents.intake.grafana import (
    Signal,
    bounded_key,
    first_link,
    first_text,
    group_dedup_key,
    parse_alerts,
    parse_legacy,
    unified_notification,
)

INTEGRATIONS = ("alertmanager", "grafana_alerting", "grafana", "webhook", "formatted_webhook")
_FORMATTED_FIELDS = ("alert_uid", "title", "message", "image_url", "link_to_upstream_details", "state")
_PAYLOAD_SHOWN_MAX = 4000


def parse_oncall(integration: str, data: object, scope: str) -> list[Signal]:
    """The signals in one body sent to OnCall integration ``integration``; ``scope`` tells one
    integration key's groups from another's."""
    if integration in ("alertmanager", "grafana_alerting"):
        return [_alert_group(fields.json_object(data))]
    if integration == "grafana":
        return _grafana(fields.json_object(data), f"oncall:{scope}:grafana:")
    if integration == "webhook":
        return [_webhook(data, f"oncall:{scope}:webhook:")]
    if integration == "formatted_webhook":
        return [_formatted_webhook(fields.json_object(data), f"oncall:{scope}:formatted_webhook:")]
    raise ValueError(f"not an OnCall integration: {integration}")


def _alert_group(payload: dict) -> Signal:
    if payload.get("version") == "4":
        group = parse_alertmanager(payload)
        return Signal(firing=group.firing, resolved=not group.firing and group.resolved_all, trigger=group.trigger)
    return unified_notification(payload, parse_alerts(payload), group_dedup_key(payload))


def _grafana(payload: dict, prefix: str) -> list[Signal]:
    if "alerts" not in payload:
        rule = payload.get("ruleName") or payload.get("title")
        return [parse_legacy(payload, bounded_key(prefix, rule) if isinstance(rule, str) and rule.strip() else None)]
    by_name: dict[str, list] = {}
    for alert in parse_alerts(payload):
        by_name.setdefault(alert.name, []).append(alert)
    return [unified_notification(payload, alerts, bounded_key(prefix, name)) for name, alerts in by_name.items()]


def _webhook(data: object, prefix: str) -> Signal:
    """Any JSON: OnCall's webhook takes whatever a script sends, so nothing in it is refused."""
    payload = data if isinstance(data, dict) else {}
    text = {name: _loose(value) for name, value in payload.items()}
    group = (text.get("alert_uid") or text.get("title") or "").strip()
    if not group:
        group = "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    message = (text.get("message") or text.get("description") or "").strip()
    shown = fields.clip(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False), _PAYLOAD_SHOWN_MAX)
    trigger = TriggerRequest(
        title=first_text((text.get("title"), text.get("alertname"), message.split("\n", 1)[0]), "Webhook alert"),
        body=fields.clip("\n\n".join(filter(None, (message, shown))), BODY_MAX),
        priority=severity.priority_of(text.get("severity") or text.get("priority")) or severity.DEFAULT_PRIORITY,
        service=fields.clip(text.get("service", "").strip(), SERVICE_MAX),
        team=fields.team(text.get("team")),
        dedup_key=bounded_key(prefix, group),
        dashboard_url=first_link(text.get(name, "") for name in ("url", "link_to_upstream_details", "generatorURL")),
        labels=_string_fields(payload),
    )
    resolved = text.get("state", "").strip().upper() == "OK" or text.get("status", "").strip().lower() == "resolved"
    return Signal(firing=not resolved, resolved=resolved, trigger=trigger)


def _formatted_webhook(payload: dict, prefix: str) -> Signal:
    values = {name: _text(payload.get(name), name) for name in _FORMATTED_FIELDS}
    message = values["message"].strip()
    image = values["image_url"]
    body = "\n".join(filter(None, (message, f"Image: {image}" if fields.is_web_url(image) else "")))
    labels = _string_fields(payload)
    trigger = TriggerRequest(
        title=first_text((values["title"], message.split("\n", 1)[0]), "Formatted webhook alert"),
        body=fields.clip(body, BODY_MAX),
        priority=severity.priority_of(labels.get("severity")) or severity.DEFAULT_PRIORITY,
        team=fields.team(labels.get("team")),
        dedup_key=bounded_key(prefix, values["alert_uid"].strip()),
        dashboard_url=first_link((values["link_to_upstream_details"],)),
        labels=labels,
    )
    resolved = values["state"].strip().upper() == "OK"
    return Signal(firing=not resolved, resolved=resolved, trigger=trigger)


def _text(value: object, field: str) -> str:
    """A field people write as text; numbers are read as their text, anything else is refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise IntakeError(field, "must be a string")


def _loose(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _string_fields(payload: dict) -> dict[str, str]:
    """The body's top-level text fields, for routing rules to match on."""
    return {name: value for name, value in payload.items() if isinstance(name, str) and isinstance(value, str)}
