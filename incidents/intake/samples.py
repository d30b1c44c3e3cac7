"""Which intake format a sample body is in, for ``ackbot route``: each format's parser by name,
and a guess from the body's shape. Pure.

A format module adds itself to FORMATS (its name as the route and ``--format`` spell it) and, when
its bodies can be told apart, to ``detect_format``."""
from __future__ import annotations

from collections.abc import Callable

from incidents.intake.alertmanager import parse_alertmanager
from incidents.intake.fields import IntakeError, TriggerRequest
from incidents.intake.grafana import parse_grafana
from incidents.intake.native import parse_incident_request
from incidents.intake.oncall import parse_oncall
from incidents.intake.opsgenie import parse_create
from incidents.intake.pagerduty import parse_event


def _pagerduty_trigger(data: object) -> TriggerRequest:
    # The routing key is what --key stands for, so a sample need not carry one.
    event = parse_event(data, "sample", lambda: "sample")
    if event.trigger is None:
        raise IntakeError("event_action", "only a trigger is routed (this event acknowledges or resolves)", 400)
    return event.trigger


FORMATS: dict[str, Callable[[object], TriggerRequest]] = {
    "native": parse_incident_request,
    "alertmanager": lambda data: parse_alertmanager(data).trigger,
    "pagerduty": _pagerduty_trigger,
    "opsgenie": lambda data: parse_create(data).trigger,
    "grafana": lambda data: parse_grafana(data).trigger,
    # OnCall keeps groups apart per integration key; which key does not change the route.
    "oncall-webhook": lambda data: parse_oncall("webhook", data, "sample")[0].trigger,
    "oncall-formatted-webhook": lambda data: parse_oncall("formatted_webhook", data, "sample")[0].trigger,
}


def detect_format(data: object) -> str:
    """The name of the format ``data`` looks like; "native" when nothing else fits."""
    if not isinstance(data, dict):
        return "native"
    if "groupKey" in data and "alerts" in data:
        return "alertmanager" if data.get("version") == "4" else "grafana"
    if "ruleName" in data and "state" in data:
        return "grafana"
    if "alert_uid" in data and "title" in data:
        return "oncall-formatted-webhook"
    if "event_action" in data:
        return "pagerduty"
    if "message" in data and "title" not in data:
        return "opsgenie"
    return "native"


def parse_sample(data: object, format_name: str) -> TriggerRequest:
    """A sample body in the format called ``format_name``; raises IntakeError as its route would."""
    return FORMATS[format_name](data)
