"""Which intake format a sample body is in, for ``ackbot route``: each format's parser by name,
and a guess from the body's shape. Pure.

A format module adds itself to FORMATS (its name as the route and ``--format`` spell it) and, when
its bodies can be told apart, to ``detect_format``."""
from __future__ import annotations

from collections.abc import Callable

from incidents.intake.alertmanager import parse_alertmanager
from incidents.intake.fields import TriggerRequest
from incidents.intake.native import parse_incident_request

FORMATS: dict[str, Callable[[object], TriggerRequest]] = {
    "native": parse_incident_request,
    "alertmanager": lambda data: parse_alertmanager(data).trigger,
}


def detect_format(data: object) -> str:
    """The name of the format ``data`` looks like; "native" when nothing else fits."""
    if isinstance(data, dict) and "groupKey" in data and "alerts" in data and data.get("version") == "4":
        return "alertmanager"
    return "native"


def parse_sample(data: object, format_name: str) -> TriggerRequest:
    """A sample body in the format called ``format_name``; raises IntakeError as its route would."""
    return FORMATS[format_name](data)
