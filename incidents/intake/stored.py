"""A ``TriggerRequest`` as the JSON text the intake inbox keeps (``incidents.intake_inbox``), and
back. Pure: no I/O. ``from_json(to_json(request)) == request`` for every request."""
from __future__ import annotations

import json
from dataclasses import asdict

from incidents.intake.fields import AlertGroup, GroupAlert, TriggerRequest
from storage.enums import Priority


def to_json(request: TriggerRequest) -> str:
    data = asdict(request)
    data["labels"] = dict(request.labels)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def from_json(text: str) -> TriggerRequest:
    data = json.loads(text)
    group = data.pop("group")
    return TriggerRequest(
        **{**data, "priority": Priority(data["priority"])},
        group=None if group is None else AlertGroup(
            alerts=tuple(
                GroupAlert(alert["fingerprint"], alert["firing"], alert["line"], Priority(alert["priority"]))
                for alert in group["alerts"]
            ),
            left_out=group["left_out"],
        ),
    )
