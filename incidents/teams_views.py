"""What a Teams card about an incident shows to one reader, read in one go (the card the bot
answers a click with must match the ones the Teams channel posts and replaces)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from incidents.lifecycle import ActionOutcome, Actor, IncidentNotFound, actor_involved_sql, settled_outcome
from storage.database import database
from storage.enums import Action, NotificationKind
from storage.models import Incident, NotificationLog, Team
from storage.rows import columns_of, from_row


@dataclass(frozen=True)
class CardView:
    """The incident, its team's display name, and the escalation level that paged the reader
    (None when they were not paged for it)."""

    incident: Incident
    team_name: str
    escalation_level: int | None


def card_view(incident: Incident, user_id: int | None) -> CardView:
    """The view of ``incident`` (as just read, e.g. by the action's outcome) for the user (None:
    a reader who was paged for nothing).
    Synchronous: run it inside ``database.run``."""
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


def settled_click(number: int, action: Action, actor: Actor) -> tuple[ActionOutcome, CardView] | None:
    """The answer to a card click that can change nothing, with the card the actor should now
    see, read in one hand-written statement without the write lock (most clicks on a busy
    incident are repeats); None when the action may apply. Raises IncidentNotFound, NotAllowed,
    as ``lifecycle.transition`` does. Synchronous: run it inside ``database.run``."""
    user_id = actor.user_id
    params = (user_id, user_id, user_id, NotificationKind.ALERT.value, number)
    row = database.execute_sql(_settled_click_sql(database.param), params).fetchone()
    if row is None:
        raise IncidentNotFound(number)
    incident, (involved, team_name, level) = from_row(Incident, row)
    outcome = settled_outcome(incident, bool(involved), number, action, actor)
    if outcome is None:
        return None
    return outcome, CardView(incident, team_name or "", level)


@cache
def _settled_click_sql(param: str) -> str:
    pages = NotificationLog._meta.table_name
    return (
        f"SELECT {columns_of(Incident, 'i')}, {actor_involved_sql(param)}, t.display_name,"
        f' (SELECT p.escalation_level FROM "{pages}" p WHERE p.incident_id = i.id AND p.user_id = {param}'
        f" AND p.kind = {param} ORDER BY p.id DESC LIMIT 1)"
        f' FROM "{Incident._meta.table_name}" i LEFT JOIN "{Team._meta.table_name}" t ON t.id = i.team_id'
        f" WHERE i.id = {param}"
    )
