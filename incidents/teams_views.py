"""What a Teams card about an incident shows to one reader, read in one go (the card the bot
answers a click with must match the ones the Teams channel posts and replaces)."""
from __future__ import annotations

from dataclasses import dataclass

from storage.enums import NotificationKind
from storage.models import Incident, NotificationLog, Team


@dataclass(frozen=True)
class CardView:
    """The incident, its team's display name, and the escalation level that paged the reader
    (None when they were not paged for it)."""

    incident: Incident
    team_name: str
    escalation_level: int | None


def card_view(incident: Incident, user_id: int) -> CardView:
    """The view of ``incident`` (as just read, e.g. by the action's outcome) for the user.
    Synchronous: ``TeamsStore.card_view`` runs it."""
    team = Team.get_or_none(Team.id == incident.team_id) if incident.team_id else None
    page = (
        NotificationLog.select(NotificationLog.escalation_level)
        .where(
            (NotificationLog.incident == incident.id) & (NotificationLog.user == user_id)
            & (NotificationLog.kind == NotificationKind.ALERT)
        )
        .order_by(NotificationLog.id.desc())
        .first()
    )
    return CardView(incident, team.display_name if team else "", page.escalation_level if page else None)
