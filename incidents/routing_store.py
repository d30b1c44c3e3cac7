"""The routing table and the teams, as stored. Synchronous peewee code: call inside
``database.run`` (the trigger runs it inside its transaction)."""
from __future__ import annotations

from incidents.routing import KeyBinding, RoutingRule, RoutingTable, Teams
from storage.enums import Priority
from storage.models import ApiKey, RoutingRuleRow, Team


def load_routing() -> tuple[RoutingTable, Teams]:
    """The stored ``[routing]`` and every team, for ``routing.route``."""
    teams = list(Team.select(Team.id, Team.name, Team.display_name, Team.default_route).order_by(Team.id))
    names = {team.id: team.name for team in teams}
    rows = RoutingRuleRow.select().order_by(RoutingRuleRow.position)
    rules = tuple(
        RoutingRule(
            position=row.position, match=row.match, team=names[row.team_id],
            priority=Priority(row.priority) if row.priority else None, service=row.service,
        )
        for row in rows
    )
    default = next((team.name for team in teams if team.default_route), None)
    return RoutingTable(rules, default), Teams.of((team.name, team.display_name) for team in teams)


def key_binding(api_key: ApiKey) -> KeyBinding:
    """What an intake key binds its alerts to, by team name."""
    team = Team.get_or_none(Team.id == api_key.team_id) if api_key.team_id else None
    return KeyBinding(api_key.name, team.name if team else None, api_key.service)
