"""The routing table and the teams, as stored, and the people file's ``[routing]`` written.
Synchronous peewee code: call inside ``database.run`` (the trigger and ``directory apply`` run
it inside their transactions)."""
from __future__ import annotations

from incidents.directory_file import RoutingEntry
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
    return RoutingTable(rules, default), Teams.of([(team.name, team.display_name) for team in teams], [team.id for team in teams])


def key_binding(api_key: ApiKey, teams: Teams) -> KeyBinding:
    """What an intake key binds its alerts to, by team name (``teams``: as ``load_routing``
    gives them)."""
    return KeyBinding(api_key.name, teams.name_of(api_key.team_id), api_key.service)


def routing_references(routing: RoutingEntry | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """(entry, field, team names) for every team ``[routing]`` names, for the apply's checks."""
    if routing is None:
        return []
    named: list[tuple[str, str, tuple[str, ...]]] = [("routing", "default_team", (routing.default_team,))] if routing.default_team else []
    return named + [(rule.label, "team", (rule.team,)) for rule in routing.rules]


def sync_routing(routing: RoutingEntry, team_ids: dict[str, int]) -> bool:
    """Make the stored rules and default team exactly ``routing``; writes (and returns True)
    only when they differ. Every team it names must be in ``team_ids``."""
    wanted = [
        (rule.position, rule.match, team_ids[rule.team], rule.priority.value if rule.priority else None, rule.service)
        for rule in routing.rules
    ]
    rows = RoutingRuleRow.select().order_by(RoutingRuleRow.position)
    stored = [(row.position, row.match, row.team_id, row.priority, row.service) for row in rows]
    changed = stored != wanted
    if changed:
        RoutingRuleRow.delete().execute()
        if wanted:
            fields = ("position", "match", "team", "priority", "service")
            RoutingRuleRow.insert_many([dict(zip(fields, rule, strict=True)) for rule in wanted]).execute()
    default_id = team_ids[routing.default_team] if routing.default_team else None
    defaults = {team_id for (team_id,) in Team.select(Team.id).where(Team.default_route).tuples()}
    if defaults != ({default_id} if default_id else set()):
        Team.update(default_route=False).where(Team.default_route & (Team.id != default_id)).execute()
        if default_id is not None:
            Team.update(default_route=True).where(Team.id == default_id).execute()
        changed = True
    return changed
