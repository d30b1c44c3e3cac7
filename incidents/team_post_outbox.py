"""TeamPost rows as the dispatcher claims, sends and records them (``incidents.outbox`` calls
these inside its transactions; ``incidents.leases`` has the claiming rules).

A batch takes at most one post per chat channel: Slack accepts about one message a second per
channel, so a storm of incidents for one team waits in the queue, not inside a send timeout.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from incidents import leases
from incidents.channel_traits import TeamChat
from incidents.lifecycle import EngineConfig, record_event
from storage.enums import Channel, DeliveryStatus, EventKind, NotificationKind, surface_label
from storage.models import Incident, Team, TeamPost, TeamsChannelReference


@dataclass(frozen=True)
class TeamPostDelivery:
    """Everything a channel needs to send one claimed team post; no database handle.
    ``destination`` is the chat channel (a Slack or Teams channel id); ``workspace`` is a Slack
    channel's workspace, ``teams_reference`` the conversation reference of a Teams channel the
    bot was added to (each None when unknown)."""

    post_id: int
    channel: Channel
    kind: NotificationKind
    attempt: int
    message_reference: dict | None
    incident: Incident
    team_name: str
    destination: str
    workspace: str | None
    teams_reference: dict | None
    queued_at: datetime

    @property
    def label(self) -> str:
        return f"team post {self.post_id}"


def claim_due_team_posts(worker_id: str, limit: int, config: EngineConfig, now: datetime) -> list[int]:
    """Claim up to ``limit`` due posts, one per destination; returns their ids."""
    again, spent = leases.abandoned(TeamPost, config, limit, now, TeamPost.destination)
    for row in spent:
        _give_up(row, leases.gave_up_message(row.attempt_count), now)
    candidates = again + (leases.queued(TeamPost, limit - len(again), now, TeamPost.id, TeamPost.destination)
                          if len(again) < limit else [])
    ids, destinations = [], set()
    for post_id, destination in candidates:
        if destination not in destinations:
            destinations.add(destination)
            ids.append(post_id)
    if ids:
        leases.claim(TeamPost, ids, worker_id, config, now)
    return ids


def load_team_posts(ids: list[int], config: EngineConfig) -> list[TeamPostDelivery]:
    if not ids:
        return []
    rows = list(
        TeamPost.select(TeamPost, Incident, Team)
        .join(Incident)
        .switch(TeamPost)
        .join(Team, join_type=JOIN.LEFT_OUTER)
        .where(TeamPost.id.in_(ids))
        .order_by(TeamPost.id)
    )
    teams_references = _teams_references([
        row.destination for row in rows if config.channel_traits[row.channel].team_chat is TeamChat.TEAMS_CHANNEL
    ])
    return [
        TeamPostDelivery(
            post_id=row.id, channel=Channel(row.channel), kind=NotificationKind(row.kind), attempt=row.attempt_count,
            message_reference=row.message_reference, incident=row.incident,
            team_name=row.team.display_name, destination=row.destination, workspace=row.workspace,
            teams_reference=teams_references.get(row.destination), queued_at=row.queued_at,
        )
        for row in rows
    ]


def _teams_references(conversation_ids: list[str]) -> dict[str, dict]:
    if not conversation_ids:
        return {}
    return dict(
        TeamsChannelReference.select(TeamsChannelReference.conversation_id, TeamsChannelReference.conversation_reference)
        .where(TeamsChannelReference.conversation_id.in_(conversation_ids) & TeamsChannelReference.is_active)
        .tuples()
    )


def record_team_post(delivery: TeamPostDelivery, outcome, worker_id: str, config: EngineConfig, now: datetime):
    """Record one send's ``DeliveryOutcome``; the new status, or None when the claim was lost."""
    status, changes = leases.result_changes(TeamPost, delivery.attempt, outcome, config, now)
    if not leases.record_if_held(TeamPost, delivery.post_id, worker_id, status, changes):
        return None
    if delivery.kind == NotificationKind.ALERT and outcome.message_reference:
        _give_edits_their_card(delivery, outcome.message_reference)
    if delivery.kind == NotificationKind.ALERT:
        where = f"the team's {surface_label(delivery.channel)} channel {delivery.destination}"
        if status == DeliveryStatus.DELIVERED:
            record_event(delivery.incident.id, EventKind.DELIVERED, f"Posted to {where}", now, channel=delivery.channel)
        elif status == DeliveryStatus.FAILED:
            _failed_event(delivery.incident.id, delivery.channel, delivery.destination, changes[TeamPost.error], now)
    return status


def _give_edits_their_card(card: TeamPostDelivery, reference: dict) -> None:
    """Edits queued while the card was still being posted learn which message to edit."""
    TeamPost.update(message_reference=reference).where(
        (TeamPost.incident == card.incident.id) & (TeamPost.destination == card.destination)
        & (TeamPost.kind == NotificationKind.STATUS) & (TeamPost.status == DeliveryStatus.QUEUED)
        & TeamPost.message_reference.is_null()
    ).execute()


def _give_up(row: TeamPost, error: str, now: datetime) -> None:
    leases.give_up(TeamPost, row.id, error)
    if row.kind == NotificationKind.ALERT:
        _failed_event(row.incident_id, row.channel, row.destination, error, now)


def _failed_event(incident_id: int, channel: str, destination: str, error: str, now: datetime) -> None:
    message = f"Post to the team's {surface_label(channel)} channel {destination} failed: {error}"
    record_event(incident_id, EventKind.FAILED, message, now, channel=channel)
