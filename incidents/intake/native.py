"""The native REST intake body (``POST /api/v1/incidents``), parsed and validated. Pure."""
from __future__ import annotations

from incidents.intake import fields
from incidents.intake.fields import (
    BODY_MAX,
    DEDUP_KEY_MAX,
    SERVICE_MAX,
    TEAM_MAX,
    IntakeError,
    TriggerRequest,
)

_REQUEST_FIELDS = frozenset(
    {"title", "body", "priority", "service", "team", "dedup_key", "dashboard_url", "labels"}
)
LABELS_MAX = 100


def parse_incident_request(data: object) -> TriggerRequest:
    """The ``POST /api/v1/incidents`` JSON body as a TriggerRequest.

    ``title`` is required; every other field may be absent or null. Strings are stripped except
    ``body``; ``team`` is kept as written (routing places the incident whatever it names); an
    empty ``team``, ``dedup_key`` or ``dashboard_url`` counts as absent. ``labels`` (an object of
    strings) are what routing rules match on, with ``service`` and ``team`` added when given
    and not among them. Unknown fields are refused, so a misspelt field is an error rather than
    silently ignored."""
    body = fields.json_object(data)
    for name in body:
        if name not in _REQUEST_FIELDS:
            raise IntakeError(name, "unknown field")
    service = fields.string_or_empty(body.get("service"), "service", SERVICE_MAX)
    team = fields.team(fields.optional(body.get("team"), "team", TEAM_MAX))
    labels = fields.string_map(body.get("labels"), "labels")
    if len(labels) > LABELS_MAX:
        raise IntakeError("labels", f"must have at most {LABELS_MAX} labels")
    implied = {name: value for name, value in (("service", service), ("team", team)) if value}
    return TriggerRequest(
        title=fields.title(body.get("title")),
        body=fields.string_or_empty(body.get("body"), "body", BODY_MAX, strip=False),
        priority=fields.priority(body.get("priority")),
        service=service,
        team=team,
        dedup_key=fields.optional(body.get("dedup_key"), "dedup_key", DEDUP_KEY_MAX),
        dashboard_url=fields.dashboard_url(body.get("dashboard_url")),
        labels={**implied, **labels},
    )
