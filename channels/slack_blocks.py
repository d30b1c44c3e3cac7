"""Block Kit for the Slack channel: the incident card and the test message. Pure functions.

A card shows priority, title, service, team, alert count, escalation level, trigger time (in the
reader's zone), the body, a dashboard button and the actions that still make sense; a STATUS
notice's card also says what changed ("Acknowledged by Alice via EMAIL at …"). Button values
are the incident number, so a click names its incident.
"""
from __future__ import annotations

from channels.base import format_timestamp, truncate
from channels.types import NotificationAction, NotificationPayload

PRIORITY_MARK = {"CRITICAL": "🔴", "HIGH": "🟠", "MEDIUM": "🟡", "LOW": "🔵", "INFO": "⚪"}
DASHBOARD_ACTION = "dashboard"
OPEN_ACTION = "open_in_ackbot"

# Slack's limits: header text 150, section text 3000, field text 2000, button text 75.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000
_BUTTON_LIMIT = 75


def escape(text: str) -> str:
    """Text safe inside mrkdwn: &, < and > are Slack's control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(payload: NotificationPayload) -> str:
    """The notification text (shown in notifications and where blocks cannot be)."""
    service = f" · {payload.service}" if payload.service else ""
    text = f"{payload.priority}{service} · {payload.title} (#{payload.incident_id})"
    if payload.status_text:
        text = f"{text} · {payload.status_text}"
    return truncate(text, 3000)


def incident_card(payload: NotificationPayload) -> list[dict]:
    """The card's blocks for an ALERT or a STATUS notice."""
    mark = PRIORITY_MARK.get(payload.priority, "")
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"{mark} {payload.priority}: {payload.title}".strip(), _HEADER_LIMIT)},
        },
        {"type": "section", "fields": _fields(payload)},
    ]
    if payload.body.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(escape(payload.body), _SECTION_LIMIT)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _state_line(payload)}]})
    buttons = _buttons(payload)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"incident-{payload.incident_id}", "elements": buttons})
    return blocks


def _fields(payload: NotificationPayload) -> list[dict]:
    pairs = [
        ("Incident", f"#{payload.incident_id}"),
        ("Service", payload.service or "-"),
        ("Team", payload.team_name or "-"),
        ("Alerts", str(payload.alert_count)),
        ("Escalation level", str(payload.escalation_level) if payload.escalation_level else "-"),
        ("Triggered", format_timestamp(payload.triggered_at, payload.recipient.time_zone)),
    ]
    return [{"type": "mrkdwn", "text": truncate(f"*{name}*\n{escape(value)}", _FIELD_LIMIT)} for name, value in pairs]


def _state_line(payload: NotificationPayload) -> str:
    if payload.status_text:
        return f"*{escape(payload.status_text)}*"
    if payload.incident_status == "TRIGGERED":
        return "Triggered: waiting for someone to acknowledge"
    return escape(payload.incident_status.capitalize())


def _buttons(payload: NotificationPayload) -> list[dict]:
    buttons = [action_button(action, payload.incident_id) for action in payload.actions]
    if payload.dashboard_url:
        buttons.append({
            "type": "button", "action_id": DASHBOARD_ACTION, "url": payload.dashboard_url,
            "text": {"type": "plain_text", "text": "Dashboard"},
        })
    if payload.incident_url:
        buttons.append({
            "type": "button", "action_id": OPEN_ACTION, "url": payload.incident_url,
            "text": {"type": "plain_text", "text": "Open in Ackbot"},
        })
    return buttons


def action_button(action: NotificationAction, incident_id: int) -> dict:
    button = {
        "type": "button", "action_id": action.id, "value": str(incident_id),
        "text": {"type": "plain_text", "text": truncate(action.label, _BUTTON_LIMIT)},
    }
    if action.style in ("primary", "danger"):
        button["style"] = action.style
    if action.id == "resolve":
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Resolve this incident?"},
            "text": {"type": "plain_text", "text": f"#{incident_id} will be marked resolved for everyone."},
            "confirm": {"type": "plain_text", "text": "Resolve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button


def check_message(payload: NotificationPayload) -> tuple[str, list[dict]]:
    """A short DM that says Slack reaches the person: (text, blocks)."""
    text = f"Test page from Ackbot for {payload.recipient.name}: Slack reaches you. Nothing is wrong."
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}]
