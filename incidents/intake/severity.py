"""Severity words senders use, as Ackbot priorities. Pure.

One table for every format: Prometheus rule sets write ``critical``/``warning``/``info`` but
also ``page``, ``major``, ``P1``…; PagerDuty sends critical/error/warning/info; Opsgenie P1–P5.
"""
from __future__ import annotations

from storage.enums import Priority

# The order Priority is declared in is most to least severe.
PRIORITY_ORDER = tuple(Priority)

SEVERITY_PRIORITY = {
    **dict.fromkeys(("critical", "crit", "page", "p1", "sev1", "emergency", "fatal", "disaster"), Priority.CRITICAL),
    **dict.fromkeys(("error", "err", "high", "major", "p2", "sev2"), Priority.HIGH),
    **dict.fromkeys(("warning", "warn", "medium", "average", "p3", "sev3"), Priority.MEDIUM),
    **dict.fromkeys(("low", "minor", "p4", "sev4"), Priority.LOW),
    **dict.fromkeys(("info", "informational", "notice", "none", "ok", "p5", "sev5"), Priority.INFO),
}
# An alert whose severity is missing or unrecognised: serious enough to page.
DEFAULT_PRIORITY = Priority.HIGH


def priority_of(severity: str | None) -> Priority | None:
    """The priority a severity word maps to (case and surrounding space ignored); None when it
    is missing or not one of SEVERITY_PRIORITY."""
    if not isinstance(severity, str):
        return None
    return SEVERITY_PRIORITY.get(severity.strip().lower())


def most_severe(priorities) -> Priority | None:
    """The most severe of ``priorities``; None when there are none."""
    ranked = sorted(priorities, key=PRIORITY_ORDER.index)
    return ranked[0] if ranked else None
