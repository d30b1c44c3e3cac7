"""Queueing posts to a team's chat channels: the incident's card when it opens, and an edit of
that card whenever its state or escalation level changes. Synchronous; runs inside the caller's write transaction.

The channels are the team's ``slack_channel`` and ``teams_channel`` in the people file. A Slack
channel's workspace is the team's ``slack_workspace`` when given, else the one workspace Ackbot
is installed in; with none, or several and no choice made, the post is queued without one and
fails with a message that says what to do (so the failure shows in the incident's status and
timeline).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from incidents.channel_traits import TeamChat
from storage.bulk import insert_rows
from storage.enums import Channel, DeliveryStatus, NotificationKind
from storage.models import Incident, SlackInstallation, Team, TeamPost


def queue_alert_post(incident: Incident, team: Team, chats: Mapping[Channel, TeamChat], now: datetime) -> int:
    """Queue the card for a newly opened incident in each chat channel the team names, through
    the enabled channel that posts there (``chats``: ``EngineConfig.team_chats``). Returns how
    many posts were queued."""
    return queue_posts_to(incident.id, team.id, alert_destinations(team, chats), now)


def queue_posts_to(incident_id: int, team_id: int, destinations: list[tuple[Channel, str, str | None]], now: datetime) -> int:
    """Queue the card for a newly opened incident at ``destinations`` (``alert_destinations``)."""
    posts = [
        {
            "incident": incident_id, "team": team_id, "channel": channel, "destination": destination,
            "workspace": workspace, "kind": NotificationKind.ALERT, "status": DeliveryStatus.QUEUED,
            "queued_at": now, "next_attempt_at": now, "created_at": now,
        }
        for channel, destination, workspace in destinations
    ]
    insert_rows(TeamPost, posts)
    return len(posts)


def alert_destinations(team: Team, chats: Mapping[Channel, TeamChat]) -> list[tuple[Channel, str, str | None]]:
    """(channel, destination, Slack workspace) for each chat channel the team's posts go to.
    Only reads: the trigger reads it before its write transaction."""
    found = []
    for channel, chat in chats.items():
        destination = getattr(team, chat.value)
        if destination:
            slack = chat is TeamChat.SLACK_CHANNEL
            found.append((channel, destination, (team.slack_workspace or _only_workspace()) if slack else None))
    return found


def queue_status_posts(incident_id: int, now: datetime) -> int:
    """Queue an edit of every card already posted (or being posted) about the incident. A card
    still waiting to go out needs none: it is drawn with the incident as it is when sent."""
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
