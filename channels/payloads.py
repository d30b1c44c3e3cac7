"""Turning a claimed outbox row (a page or a team post) into the NotificationPayload a channel sends."""
from __future__ import annotations

from typing import Literal

from channels.base import format_timestamp
from channels.types import NotificationAction, NotificationPayload, Recipient
from incidents.lifecycle import available_actions
from incidents.outbox import Delivery, TeamPostDelivery
from storage.enums import Action, Channel, IncidentStatus, NotificationKind, Priority, surface_label
from storage.models import Incident

_BUTTONS: dict[str, tuple[str, Literal["primary", "danger", "default"]]] = {
    Action.ACKNOWLEDGE: ("Acknowledge", "primary"),
    Action.RESOLVE: ("Resolve", "danger"),
}


def action_link(public_url: str, token: str) -> str:
    return f"{public_url}/a/{token}"


def actions_for(status: str, tokens: dict[str, str], public_url: str) -> tuple[NotificationAction, ...]:
    """Only the buttons that still make sense for an incident in ``status``; where ``tokens``
    holds a one-time token for an action (link channels), its button carries the link."""
    actions = []
    for action in available_actions(status):
        label, style = _BUTTONS[action]
        token = tokens.get(action)
        actions.append(NotificationAction(action, label, style, action_link(public_url, token) if token else None))
    return tuple(actions)


def status_text(kind: NotificationKind, incident: Incident, zone: str) -> str | None:
    """"Acknowledged by Alice via SLACK at Sat 28 Nov 2026, 15:02 CET", in the reader's zone."""
    if kind != NotificationKind.STATUS:
        return None
    if incident.status == IncidentStatus.RESOLVED:
        by, via, at, verb = incident.resolved_by_name, incident.resolved_via, incident.resolved_at, "Resolved"
    elif incident.status == IncidentStatus.ACKNOWLEDGED:
        by, via, at, verb = incident.acknowledged_by_name, incident.acknowledged_via, incident.acknowledged_at, "Acknowledged"
    else:
        return None
    return f"{verb} by {by} via {surface_label(via)} at {format_timestamp(at, zone)}"


def build_payload(delivery: Delivery | TeamPostDelivery, public_url: str) -> NotificationPayload:
    """The payload for a claimed page to a person, or for a claimed post to a team's channel."""
    if isinstance(delivery, TeamPostDelivery):
        return _team_post_payload(delivery, public_url)
    incident, user = delivery.incident, delivery.user
    recipient = Recipient(
        user_id=user.id, name=user.name, email=user.email, phone=user.phone, time_zone=user.time_zone,
        slack_user_id=delivery.slack_user_id, slack_team_id=delivery.slack_team_id, teams_reference=delivery.teams_reference,
        push_subscriptions=delivery.push_subscriptions,
    )
    is_test = delivery.kind == NotificationKind.TEST
    return _payload(
        delivery, recipient, delivery.notification_id, delivery.escalation_level,
        () if is_test else actions_for(incident.status, delivery.action_tokens, public_url),
        None if is_test else public_url,
    )


def _team_post_payload(post: TeamPostDelivery, public_url: str) -> NotificationPayload:
    recipient = Recipient(
        user_id=None, name=post.team_name, slack_channel_id=post.destination if post.channel == Channel.SLACK else None,
        slack_team_id=post.workspace, teams_reference=post.teams_reference,
    )
    actions = actions_for(post.incident.status, {}, public_url)
    return _payload(post, recipient, post.post_id, post.incident.escalation_level, actions, public_url)


def incident_page_url(public_url: str, number: int) -> str:
    """The incident's page in the web view."""
    return f"{public_url}/incidents/{number}"


def _payload(delivery, recipient: Recipient, delivery_id: int, escalation_level, actions, public_url) -> NotificationPayload:
    incident = delivery.incident
    return NotificationPayload(
        incident_id=incident.id, user_id=recipient.user_id, title=incident.title, body=incident.body,
        priority=Priority(incident.priority), service=incident.service, team_name=delivery.team_name,
        alert_count=incident.alert_count, escalation_level=escalation_level,
        dashboard_url=incident.dashboard_url, triggered_at=incident.triggered_at,
        recipient=recipient, notification_id=delivery_id, kind=delivery.kind, actions=actions,
        incident_status=incident.status, status_text=status_text(delivery.kind, incident, recipient.time_zone),
        message_reference=delivery.message_reference,
        incident_url=incident_page_url(public_url, incident.id) if public_url else None,
    )
