"""The Web Push message a page, a status notice or a test becomes: a small JSON object that
Ackbot's service worker (bot/static/sw.js) shows as a notification. Pure: a payload in, bytes out.

Shape: ``{title, body, priority, service, incident, kind, tag, url, actions: [{action, title, url}]}``.
``tag`` is the same for every message about one incident, so a status notice replaces the page
on the device; ``url`` is what a plain click opens (the first action's confirmation page).
"""
from __future__ import annotations

import json

from channels.base import format_timestamp, truncate
from channels.types import NotificationKind, NotificationPayload, Priority

# Push services accept about 4 KB of encrypted payload; aes128gcm adds 103 bytes at most here.
MAX_MESSAGE_BYTES = 3800
TITLE_LIMIT = 120
BODY_LIMIT = 1000
URGENT_PRIORITIES = (Priority.CRITICAL, Priority.HIGH)


def title(payload: NotificationPayload) -> str:
    service = f" {payload.service}" if payload.service else ""
    if payload.kind == NotificationKind.TEST:
        return "[TEST] Ackbot test notification"
    label = payload.incident_status if payload.kind == NotificationKind.STATUS else payload.priority
    return truncate(f"[{label}] #{payload.incident_id}{service}: {payload.title}", TITLE_LIMIT)


def body(payload: NotificationPayload) -> str:
    if payload.kind == NotificationKind.TEST:
        return "Nothing is wrong: this is how Ackbot pages reach this device."
    if payload.kind == NotificationKind.STATUS:
        return payload.status_text or f"#{payload.incident_id} is now {payload.incident_status.lower()}."
    facts = [payload.team_name, f"level {payload.escalation_level}" if payload.escalation_level else "",
             f"{payload.alert_count} alerts" if payload.alert_count > 1 else "",
             format_timestamp(payload.triggered_at, payload.recipient.time_zone)]
    line = " · ".join(fact for fact in facts if fact)
    return f"{payload.body}\n{line}" if payload.body else line


def message(payload: NotificationPayload, body_limit: int = BODY_LIMIT) -> dict:
    actions = [{"action": action.id, "title": action.label, "url": action.url} for action in payload.actions if action.url]
    is_test = payload.kind == NotificationKind.TEST
    return {
        "title": title(payload),
        "body": truncate(body(payload), body_limit),
        "priority": str(payload.priority),
        "service": payload.service,
        "incident": None if is_test else payload.incident_id,
        "kind": str(payload.kind),
        "tag": "ackbot-test" if is_test else f"ackbot-incident-{payload.incident_id}",
        "url": actions[0]["url"] if actions else None,
        "actions": actions,
    }


def encode(payload: NotificationPayload) -> bytes:
    """The message as UTF-8 JSON, its body shortened until the whole fits one push message."""
    limit = BODY_LIMIT
    while True:
        data = json.dumps(message(payload, limit), ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) <= MAX_MESSAGE_BYTES or limit == 0:
            return data
        limit //= 2


def urgency(payload: NotificationPayload) -> str:
    """RFC 8030 Urgency: a CRITICAL or HIGH page wakes the device; everything else is normal."""
    if payload.kind == NotificationKind.ALERT and payload.priority in URGENT_PRIORITIES:
        return "high"
    return "normal"


def topic(payload: NotificationPayload) -> str | None:
    """RFC 8030 Topic: a newer message about the incident replaces one still waiting at the
    push service (a device that was offline gets the status, not the stale page)."""
    return None if payload.kind == NotificationKind.TEST else f"incident-{payload.incident_id}"
