"""The email a page, a status notice or a test becomes: multipart/alternative, plain text and
HTML with the same facts. Pure: a payload in, an EmailMessage out."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape

from channels.base import format_timestamp, truncate
from channels.types import NotificationKind, NotificationPayload

PRIORITY_COLOURS = {
    "CRITICAL": "#b00020", "HIGH": "#d9480f", "MEDIUM": "#e8a200", "LOW": "#1c7ed6", "INFO": "#5c677d",
}
_BUTTON_COLOURS = {"primary": "#2b8a3e", "danger": "#c92a2a", "default": "#495057"}
SUBJECT_LIMIT = 150


def subject(payload: NotificationPayload) -> str:
    service = f" {payload.service}" if payload.service else ""
    if payload.kind == NotificationKind.TEST:
        return "[TEST] Ackbot test page"
    if payload.kind == NotificationKind.STATUS:
        return truncate(f"[{payload.incident_status}] #{payload.incident_id}{service}: {payload.title}", SUBJECT_LIMIT)
    return truncate(f"[{payload.priority}] #{payload.incident_id}{service}: {payload.title}", SUBJECT_LIMIT)


def facts(payload: NotificationPayload) -> list[tuple[str, str]]:
    """The incident's facts, in the order both parts show them."""
    return [
        ("Priority", str(payload.priority)),
        ("Service", payload.service or "-"),
        ("Team", payload.team_name or "-"),
        ("Alerts", str(payload.alert_count)),
        ("Escalation level", str(payload.escalation_level or "-")),
        ("Triggered", format_timestamp(payload.triggered_at, payload.recipient.time_zone)),
    ]


def _headline(payload: NotificationPayload) -> str:
    if payload.kind == NotificationKind.TEST:
        return "This is a test page from Ackbot. Nothing is wrong; this is how pages reach you by email."
    if payload.kind == NotificationKind.STATUS:
        return payload.status_text or f"#{payload.incident_id} is now {payload.incident_status.lower()}."
    return f"#{payload.incident_id} {payload.title}"


def text_part(payload: NotificationPayload) -> str:
    lines = [_headline(payload)]
    if payload.kind == NotificationKind.TEST:
        return lines[0] + "\n"
    if payload.kind == NotificationKind.STATUS:
        lines += ["", f"#{payload.incident_id} {payload.title}"]
    lines += [""] + [f"{label}: {value}" for label, value in facts(payload)]
    if payload.body:
        lines += ["", payload.body]
    if payload.dashboard_url:
        lines += ["", f"Dashboard: {payload.dashboard_url}"]
    if payload.incident_url:
        lines += ["", f"Open in Ackbot: {payload.incident_url}"]
    lines += [line for action in payload.actions if action.url for line in ("", f"{action.label}: {action.url}")]
    return "\n".join(lines) + "\n"


def html_part(payload: NotificationPayload) -> str:
    colour = PRIORITY_COLOURS.get(str(payload.priority), "#5c677d")
    parts = [
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#212529">',
        f'<p style="font-size:18px;font-weight:bold">{escape(_headline(payload))}</p>',
    ]
    if payload.kind != NotificationKind.TEST:
        parts.append(
            f'<p><span style="background:{colour};color:#fff;padding:2px 8px;border-radius:3px;font-weight:bold">'
            f'{escape(str(payload.priority))}</span> <strong>#{payload.incident_id} {escape(payload.title)}</strong></p>'
        )
        parts.append('<table cellpadding="4" style="border-collapse:collapse">')
        parts += [
            f'<tr><td style="color:#6c757d">{escape(label)}</td><td>{escape(value)}</td></tr>'
            for label, value in facts(payload)
        ]
        parts.append("</table>")
        if payload.body:
            parts.append(f'<pre style="white-space:pre-wrap;font-family:inherit">{escape(payload.body)}</pre>')
        if payload.dashboard_url:
            parts.append(f'<p><a href="{escape(payload.dashboard_url, quote=True)}">Open the dashboard</a></p>')
        if payload.incident_url:
            parts.append(f'<p><a href="{escape(payload.incident_url, quote=True)}">Open in Ackbot</a></p>')
        parts.append(_buttons(payload))
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)


def _buttons(payload: NotificationPayload) -> str:
    buttons = [
        f'<a href="{escape(action.url, quote=True)}" style="display:inline-block;margin-right:8px;padding:10px 18px;'
        f'background:{_BUTTON_COLOURS[action.style]};color:#fff;text-decoration:none;border-radius:4px">'
        f"{escape(action.label)}</a>"
        for action in payload.actions
        if action.url
    ]
    return f"<p>{''.join(buttons)}</p>" if buttons else ""


def build_message(payload: NotificationPayload, sender: str) -> EmailMessage:
    """The message for ``payload``, with a new Message-ID (the provider id). A status notice
    answers the page's own message, so mail clients thread them."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload.recipient.email
    message["Subject"] = subject(payload)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "ackbot.local")
    original = (payload.message_reference or {}).get("message_id")
    if payload.kind == NotificationKind.STATUS and original:
        message["In-Reply-To"] = original
        message["References"] = original
    if payload.kind == NotificationKind.ALERT and str(payload.priority) in ("CRITICAL", "HIGH"):
        message["X-Priority"] = "1"
    message.set_content(text_part(payload))
    message.add_alternative(html_part(payload), subtype="html")
    return message
