"""Queueing posts to a team's Slack channel: the incident's card when it opens, and an edit of
that card whenever its state changes. Synchronous; runs inside the caller's write transaction.

The channel is the team's ``slack_channel`` in the people file. Its workspace is the team's
``slack_workspace`` when given, else the one workspace Ackbot is installed in; with none, or
several and no choice made, the post is queued without one and fails with a message that says
what to do (so the failure shows in the incident's status and timeline).
"""
from __future__ import annotations

from datetime import datetime

from storage.enums import Channel, DeliveryStatus, NotificationKind
from storage.models import Incident, SlackInstallation, Team, TeamPost


def queue_alert_post(incident: Incident, team: Team, enabled: frozenset[Channel], now: datetime) -> bool:
    """Queue the card for a newly opened incident, if the team names a Slack channel and Slack is
    on. Returns whether a post was queued."""
    if not team.slack_channel or Channel.SLACK not in enabled:
        return False
    TeamPost.create(
        incident=incident.id, team=team.id, channel=Channel.SLACK, destination=team.slack_channel,
        workspace=team.slack_workspace or _only_workspace(), kind=NotificationKind.ALERT,
        queued_at=now, next_attempt_at=now, created_at=now,
    )
    return True


def queue_status_posts(incident_id: int, now: datetime) -> int:
    """Queue an edit of every card already posted (or being posted) about the incident. A card
    still waiting to go out needs none: it is drawn with the incident's state when it is sent."""
    posted = TeamPost.select().where(
        (TeamPost.incident == incident_id)
        & (TeamPost.kind == NotificationKind.ALERT)
        & TeamPost.status.in_([DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED])
    )
    edits = [
        {
            "incident": incident_id, "team": post.team_id, "channel": post.channel, "destination": post.destination,
            "workspace": post.workspace, "kind": NotificationKind.STATUS, "status": DeliveryStatus.QUEUED,
            "message_reference": post.message_reference, "queued_at": now, "next_attempt_at": now, "created_at": now,
        }
        for post in posted
    ]
    if edits:
        TeamPost.insert_many(edits).execute()
    return len(edits)


def _only_workspace() -> str | None:
    """The Slack workspace Ackbot is installed in, when there is exactly one."""
    team_ids = {
        team_id for (team_id,) in SlackInstallation.select(SlackInstallation.team_id)
        .where(SlackInstallation.is_active & SlackInstallation.team_id.is_null(False))
        .distinct().tuples()
    }
    return team_ids.pop() if len(team_ids) == 1 else None
