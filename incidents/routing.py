"""Which team an alert goes to, and why. Pure: the caller loads the table and the teams.

The order: the first routing rule whose every label matches, then the team the intake key is
bound to, then the team the alert names (matched case-insensitively to a team's name or display
name), then the people file's ``default_team``. An unknown team is never a refusal: the alert
goes on down the list, and ``Route.reason`` says which step placed it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from incidents.intake.fields import TriggerRequest
from storage.enums import Priority


@dataclass(frozen=True)
class RoutingRule:
    """``[[routing.rules]]`` number ``position`` (from 1). It matches when every label in
    ``match`` is present and its value fits the glob (``*``, ``?``, ``[…]``; case-sensitive);
    then the alert goes to ``team``, with ``priority`` and ``service`` replaced when given."""

    position: int
    match: Mapping[str, str]
    team: str
    priority: Priority | None = None
    service: str | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(name in labels and fnmatchcase(labels[name], glob) for name, glob in self.match.items())

    def describe(self) -> str:
        return ", ".join(f'{name}="{glob}"' for name, glob in self.match.items()) or "every alert"


@dataclass(frozen=True)
class RoutingTable:
    """The people file's ``[routing]``: rules in order, and the team for what nothing places."""

    rules: tuple[RoutingRule, ...] = ()
    default_team: str | None = None


@dataclass(frozen=True)
class KeyBinding:
    """The intake key a request came with: its name, and the team and service it is bound to."""

    name: str
    team: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Teams:
    """The teams that exist: ``names`` as stored, ``lookup`` from a case-folded name or display
    name to the team's name."""

    names: frozenset[str] = frozenset()
    lookup: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, teams: Iterable[tuple[str, str]]) -> Teams:
        """From (name, display name) pairs; a name wins over another team's display name."""
        teams = list(teams)
        lookup = {display.strip().casefold(): name for name, display in teams if display}
        lookup.update({name.casefold(): name for name, _ in teams})
        return cls(frozenset(name for name, _ in teams), lookup)

    def find(self, named: str) -> str | None:
        return self.lookup.get(named.strip().casefold())


@dataclass(frozen=True)
class Route:
    """Where an alert goes: ``team`` (None: no team, nobody is paged), the priority and service
    the incident gets, and ``reason``, the timeline's sentence on how the team was chosen."""

    team: str | None
    priority: Priority
    service: str
    reason: str


def route(request: TriggerRequest, table: RoutingTable, teams: Teams, key: KeyBinding | None = None) -> Route:
    """Where ``request`` goes, by the order in the module's docstring."""
    service = request.service or (key.service if key and key.service else "")
    for rule in table.rules:
        if rule.team in teams.names and rule.matches(request.labels):
            reason = f"Routed to {rule.team} by routing rule {rule.position} ({rule.describe()})"
            return Route(rule.team, rule.priority or request.priority, rule.service or service, reason)
    if key is not None and key.team in teams.names:
        return Route(key.team, request.priority, service, f"Routed to {key.team}: API key '{key.name}' is bound to it")
    named = teams.find(request.team) if request.team else None
    if named is not None:
        return Route(named, request.priority, service, f"Routed to {named}: the alert names it")
    missing = f"No team '{request.team}'" if request.team else "No team given"
    if table.default_team in teams.names:
        return Route(table.default_team, request.priority, service, f"{missing}: routed to {table.default_team} by default")
    return Route(None, request.priority, service, f"{missing} and no default team: nobody was paged")
