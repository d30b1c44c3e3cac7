"""Notices to one person about no incident (a shift taken from them, a shift about to start):
like test pages, each goes out under a resolved INFO incident of its own, so it is tracked,
retried and visible like any page, shows no buttons and pages nobody else. Synchronous: call
inside ``database.run`` (inside a transaction)."""
from __future__ import annotations

from datetime import datetime

from incidents.directory import channel_tiers_for
from incidents.lifecycle import EngineConfig
from incidents.people import reachable_channels
from incidents.team_posts import queue_alert_post
from storage.enums import Channel, DeliveryStatus, EventKind, IncidentStatus, NotificationKind
from storage.models import Incident, IncidentEvent, NotificationLog, Team, User

NOTICE_SERVICE = "schedules"


def notice_incident(title: str, body: str, now: datetime, team: Team | None = None) -> Incident:
    """The resolved INFO incident a notice goes out under."""
    return Incident.create(
        title=title[:500], body=body, priority="INFO", service=NOTICE_SERVICE, team=team, status=IncidentStatus.RESOLVED,
        resolved_at=now, resolved_by_name="Ackbot", resolved_via="NOTICE", triggered_at=now, created_at=now,
        updated_at=now,
    )


def queue_team_notice(team: Team, title: str, body: str, config: EngineConfig, now: datetime) -> Incident:
    """Post ``title``/``body`` as a card to the team's Slack and Teams channels (where it has them)."""
    incident = notice_incident(title, body, now, team)
    queue_alert_post(incident, team, config.team_chats, now)
    return incident


def queue_notice(user_id: int, title: str, body: str, config: EngineConfig, now: datetime) -> Incident:
    """Queue ``title``/``body`` to the person's first tier that can reach them (none reaching
    them: the notice is only on its incident's timeline, which says so)."""
    channels = _first_reachable_tier(user_id, config)
    user = User.get_by_id(user_id)
    incident = notice_incident(title, body, now)
    if channels:
        NotificationLog.insert_many([
            {
                "incident": incident.id, "user": user_id, "channel": channel, "status": DeliveryStatus.QUEUED,
                "tier": "primary", "kind": NotificationKind.ALERT, "queued_at": now, "next_attempt_at": now, "created_at": now,
            }
            for channel in channels
        ]).execute()
    where = ", ".join(channel.lower() for channel in channels) or "no channel (none reaches them)"
    IncidentEvent.create(
        incident=incident.id, kind=EventKind.NOTIFIED, message=f"Notice to {user.name} on {where}", user=user_id, created_at=now,
    )
    return incident


def _first_reachable_tier(user_id: int, config: EngineConfig) -> tuple[Channel, ...]:
    reach = reachable_channels([user_id], config.reach)[user_id]
    for _, channels in channel_tiers_for(user_id, config.default_tiers).tiers():
        usable = tuple(channel for channel in channels if channel in reach)
        if usable:
            return usable
    return ()
