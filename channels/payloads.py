"""Turning a claimed outbox row into the NotificationPayload a channel sends."""
from __future__ import annotations

from channels.base import format_timestamp
from channels.types import NotificationAction, NotificationPayload, Recipient
from incidents.lifecycle import available_actions
from incidents.outbox import Delivery
from storage.enums import Action, IncidentStatus, NotificationKind, Priority, surface_label

_BUTTONS = {
    Action.ACKNOWLEDGE: ("Acknowledge", "primary"),
    Action.RESOLVE: ("Resolve", "danger"),
}


def action_link(public_url: str, token: str) -> str:
    return f"{public_url}/a/{token}"


def actions_for(delivery: Delivery, public_url: str) -> tuple[NotificationAction, ...]:
    """Only the buttons that still make sense; on link channels each carries its one-time link."""
    actions = []
    for action in available_actions(delivery.incident.status):
        label, style = _BUTTONS[action]
        token = delivery.action_tokens.get(action)
        actions.append(NotificationAction(action, label, style, action_link(public_url, token) if token else None))
    return tuple(actions)


def status_text(delivery: Delivery) -> str | None:
    """"Acknowledged by Alice via SLACK at Sat 28 Nov 2026, 15:02 CET", in the reader's zone."""
    if delivery.kind != NotificationKind.STATUS:
        return None
    incident = delivery.incident
    zone = delivery.user.time_zone
    if incident.status == IncidentStatus.RESOLVED:
        by, via, at, verb = incident.resolved_by_name, incident.resolved_via, incident.resolved_at, "Resolved"
    elif incident.status == IncidentStatus.ACKNOWLEDGED:
        by, via, at, verb = incident.acknowledged_by_name, incident.acknowledged_via, incident.acknowledged_at, "Acknowledged"
    else:
        return None
    return f"{verb} by {by} via {surface_label(via)} at {format_timestamp(at, zone)}"


def build_payload(delivery: Delivery, public_url: str) -> NotificationPayload:
    incident, user = delivery.incident, delivery.user
    recipient = Recipient(
        user_id=user.id, name=user.name, email=user.email, phone=user.phone, time_zone=user.time_zone,
        slack_user_id=delivery.slack_user_id, slack_team_id=delivery.slack_team_id, teams_reference=delivery.teams_reference,
        push_subscriptions=delivery.push_subscriptions,
    )
    return NotificationPayload(
        incident_id=incident.id, user_id=user.id, title=incident.title, body=incident.body,
        priority=Priority(incident.priority), service=incident.service, team_name=delivery.team_name,
        alert_count=incident.alert_count, escalation_level=delivery.escalation_level,
        dashboard_url=incident.dashboard_url, triggered_at=incident.triggered_at,
        recipient=recipient, notification_id=delivery.notification_id, kind=delivery.kind,
        actions=actions_for(delivery, public_url) if delivery.kind != NotificationKind.TEST else (), incident_status=incident.status,
        status_text=status_text(delivery), message_reference=delivery.message_reference,
    )
