"""Routing, pure: which team an alert reaches and the sentence saying why, in the documented
order (rule, key, named team, default), and the body of an alert group."""
from __future__ import annotations

import pytest

from incidents.alert_groups import LISTED_ALERTS_MAX, GroupState, describe_change, render_body
from incidents.intake import TriggerRequest
from incidents.intake.severity import most_severe, priority_of
from incidents.routing import KeyBinding, RoutingRule, RoutingTable, Teams, route
from storage.enums import Priority

TEAMS = Teams.of([("payments", "Payments Team"), ("platform", "Platform"), ("search", "search")])
CRITICAL_PAY = RoutingRule(1, {"namespace": "pay-*", "severity": "critical"}, "payments", Priority.CRITICAL)
TABLE = RoutingTable(rules=(CRITICAL_PAY, RoutingRule(2, {"job": "es-?"}, "search", service="elasticsearch")),
                     default_team="platform")


def _alert(team=None, priority=Priority.MEDIUM, service="", **labels) -> TriggerRequest:
    return TriggerRequest(title="x", team=team, priority=priority, service=service, labels=labels)


def test_the_first_matching_rule_wins_over_key_and_named_team():
    chosen = route(_alert("search", namespace="pay-eu", severity="critical"), TABLE, TEAMS, KeyBinding("k", "search"))
    assert (chosen.team, chosen.priority) == ("payments", Priority.CRITICAL)
    assert chosen.reason == 'Routed to payments by routing rule 1 (namespace="pay-*", severity="critical")'


def test_a_rule_matches_only_when_every_label_fits_its_glob():
    assert route(_alert(namespace="pay-eu", severity="warning"), TABLE, TEAMS).team == "platform"
    assert route(_alert(namespace="payments", severity="critical"), TABLE, TEAMS).team == "platform"
    assert route(_alert(severity="critical"), TABLE, TEAMS).team == "platform"
    assert route(_alert(namespace="PAY-eu", severity="critical"), TABLE, TEAMS).team == "platform"
    search = route(_alert(job="es-1"), TABLE, TEAMS)
    assert (search.team, search.service, search.priority) == ("search", "elasticsearch", Priority.MEDIUM)


def test_the_keys_team_comes_next_and_its_service_fills_a_missing_one():
    chosen = route(_alert("platform"), TABLE, TEAMS, KeyBinding("oncall", "payments", "checkout"))
    assert (chosen.team, chosen.service) == ("payments", "checkout")
    assert chosen.reason == "Routed to payments: API key 'oncall' is bound to it"
    assert route(_alert(service="db"), TABLE, TEAMS, KeyBinding("oncall", None, "checkout")).service == "db"


@pytest.mark.parametrize("named", ["payments", "Payments", "payments team", " PAYMENTS TEAM "])
def test_the_team_the_alert_names_by_name_or_display_name(named):
    chosen = route(_alert(named), TABLE, TEAMS)
    assert chosen.team == "payments" and chosen.reason == "Routed to payments: the alert names it"


def test_an_unknown_team_goes_to_the_default_and_says_so():
    assert route(_alert("sre"), TABLE, TEAMS).reason == "No team 'sre': routed to platform by default"
    assert route(_alert(), TABLE, TEAMS).reason == "No team given: routed to platform by default"


def test_without_a_default_nobody_is_paged_and_the_reason_says_so():
    chosen = route(_alert("sre"), RoutingTable(), TEAMS, KeyBinding("k", "gone"))
    assert (chosen.team, chosen.reason) == (None, "No team 'sre' and no default team: nobody was paged")


def test_a_rule_or_default_naming_a_team_since_gone_is_passed_over():
    table = RoutingTable((RoutingRule(1, {"a": "*"}, "gone"),), default_team="gone")
    assert route(_alert(a="1"), table, TEAMS).team is None


@pytest.mark.parametrize(
    "word, priority",
    [("critical", "CRITICAL"), ("PAGE", "CRITICAL"), ("P1", "CRITICAL"), ("error", "HIGH"), ("major", "HIGH"),
     ("warning", "MEDIUM"), ("P3", "MEDIUM"), ("minor", "LOW"), ("info", "INFO"), ("none", "INFO"), ("other", None),
     (None, None)],
)
def test_severity_words(word, priority):
    assert priority_of(word) == priority


def test_most_severe():
    assert most_severe([Priority.LOW, Priority.CRITICAL, Priority.MEDIUM]) == Priority.CRITICAL
    assert most_severe([]) is None


def _state(firing: int, seen: int, joined=0, resolved=0) -> GroupState:
    listed = tuple(f"alert {n}" for n in range(min(firing, LISTED_ALERTS_MAX)))
    return GroupState(joined, resolved, seen, firing, listed)


def test_the_body_lists_firing_alerts_bounded():
    body = render_body("", _state(LISTED_ALERTS_MAX + 5, 40), left_out=3).splitlines()
    assert body[0] == f"Firing: {LISTED_ALERTS_MAX + 5} of 40 alert(s) seen"
    assert body[1] == "- alert 0" and len(body) == 1 + LISTED_ALERTS_MAX + 2
    assert body[-2:] == ["- … and 5 more firing", "- … and 3 more the sender left out of its last notification"]
    assert render_body("Disk almost full", _state(1, 1), 0).splitlines() == [
        "Disk almost full", "Firing: 1 of 1 alert(s) seen", "- alert 0"]


def test_the_timeline_says_what_changed_in_the_group():
    assert describe_change(_state(2, 3, joined=1, resolved=1)) == (
        "Alert group changed: 1 joined, 1 resolved; 2 firing of 3 seen; nobody paged again")
    assert describe_change(_state(2, 2)) == "Alert group sent again, no alert joined or resolved: nobody paged again"
