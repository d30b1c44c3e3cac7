"""The Alertmanager webhook through the real application, on SQLite and PostgreSQL, with
bodies shaped as Alertmanager 0.25 sends them: groups grow and shrink by fingerprint, the most
severe firing alert sets the priority, and every well-formed group reaches a team (2xx)."""
from __future__ import annotations

import copy

import pytest

from app import create_app
from incidents import api_keys
from storage.enums import Channel
from storage.models import Incident, IncidentEvent, NotificationLog, RoutingRuleRow, Team, TeamMember, User
from tests.fakes.alertmanager_payloads import ALERTMANAGER_0_25
from tests.fakes.channel import ScriptedChannel


@pytest.fixture
async def api(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    for name, display in (("payments", "Payments Team"), ("platform", "Platform")):
        team = await Team.acreate(name=name, display_name=display, default_route=name == "platform")
        person = await User.acreate(handle=f"{name}-oncall", name=f"{name} on call", email=f"{name}@example.com")
        await TeamMember.acreate(team=team, user=person)
    client.auth = {"Authorization": f"Bearer {await api_keys.ApiKeys().create('alertmanager')}"}
    return client


async def _send(api, payload, auth=None):
    response = await api.post("/webhooks/alertmanager", json=payload, headers=auth or api.auth)
    assert response.status == 200, await response.text()
    return await response.json()


def _group(*alerts, status="firing", **common) -> dict:
    payload = copy.deepcopy(ALERTMANAGER_0_25)
    payload["alerts"] = [copy.deepcopy(alert) for alert in alerts]
    payload["status"] = status
    payload["commonLabels"] = {**payload["commonLabels"], **common}
    return payload


def _alert(index: int, status="firing", severity=None, instance=None) -> dict:
    alert = copy.deepcopy(ALERTMANAGER_0_25["alerts"][index % 2])
    alert["status"] = status
    if severity:
        alert["labels"]["severity"] = severity
    if instance:
        alert["labels"]["instance"] = instance
        alert["fingerprint"] = f"fp-{instance}"
    return alert


async def _incident() -> Incident:
    [incident] = await Incident._meta.database.list(Incident.select())
    return incident


async def _timeline(incident_id: int) -> list[str]:
    query = IncidentEvent.select().where(IncidentEvent.incident == incident_id).order_by(IncidentEvent.id)
    return [event.message for event in await IncidentEvent._meta.database.list(query)]


async def test_a_mixed_group_is_as_severe_as_its_worst_firing_alert_and_lists_each(api):
    answer = await _send(api, ALERTMANAGER_0_25)
    assert answer == {"incident": 1, "deduplicated": False, "team": "payments", "alert_count": 2}
    incident = await _incident()
    assert (incident.priority, incident.alert_count) == ("CRITICAL", 2)
    assert incident.dashboard_url == "http://prometheus.example:9090/graph?g0.expr=PostgresDown"
    assert incident.body.splitlines() == [
        "Firing: 2 of 2 alert(s) seen",
        "- [warning] PostgresDown db-1:9187: PostgresDown on db-1:9187 (runbook: https://runbooks.example.org/postgres-down)",
        "- [critical] PostgresDown db-2:9187: PostgresDown on db-2:9187",
    ]
    assert (await _timeline(1))[0] == "Triggered: PostgresDown is firing. Routed to payments: the alert names it"


async def test_alerts_joining_and_resolving_update_the_incident_and_resends_count_nothing(api):
    await _send(api, ALERTMANAGER_0_25)
    await _send(api, ALERTMANAGER_0_25)  # repeat_interval: the same two alerts again
    assert (await _incident()).alert_count == 2

    joined = _group(_alert(0, "resolved"), _alert(1), _alert(1, instance="db-3:9187", severity="warning"))
    answer = await _send(api, joined)
    assert answer == {"incident": 1, "deduplicated": True, "team": "payments", "alert_count": 3}
    incident = await _incident()
    assert incident.body.splitlines() == [
        "Firing: 2 of 3 alert(s) seen",
        "- [critical] PostgresDown db-2:9187: PostgresDown on db-2:9187",
        "- [warning] PostgresDown db-3:9187: PostgresDown on db-2:9187",
    ]
    assert incident.priority == "CRITICAL"
    assert (await _timeline(1))[-2:] == [
        "Alert group sent again, no alert joined or resolved: nobody paged again",
        "Alert group changed: 1 joined, 1 resolved; 2 firing of 3 seen; nobody paged again",
    ]
    pages = await NotificationLog._meta.database.count(NotificationLog.select())
    assert pages == 1  # the payments on-call person, paged once

    resolved = _group(*(_alert(n, "resolved") for n in (0, 1)), status="resolved")
    assert await _send(api, resolved) == {"incident": 1, "resolved": True}
    incident = await _incident()
    assert (incident.status, incident.resolved_via, incident.alert_count) == ("RESOLVED", "ALERTMANAGER", 3)


async def test_a_less_severe_alert_starts_low_and_a_critical_one_joining_raises_it(api):
    await _send(api, _group(_alert(0)))
    assert (await _incident()).priority == "MEDIUM"
    await _send(api, _group(_alert(0), _alert(1)))
    assert (await _incident()).priority == "CRITICAL"
    assert (await _timeline(1))[-1] == (
        "Alert group changed: 1 joined, 0 resolved; 2 firing of 2 seen; nobody paged again; priority raised to CRITICAL")
    await _send(api, _group(_alert(0), _alert(1, "resolved")))
    assert (await _incident()).priority == "CRITICAL"  # never lowered while open


@pytest.mark.parametrize(
    "team, routed, reason",
    [
        ("sre", "platform", "No team 'sre': routed to platform by default"),
        ("Payments Team", "payments", "Routed to payments: the alert names it"),
        (None, "platform", "No team given: routed to platform by default"),
    ],
)
async def test_any_team_label_reaches_a_team_with_2xx(api, team, routed, reason):
    payload = _group(*ALERTMANAGER_0_25["alerts"])
    payload["commonLabels"].pop("team")
    if team:
        payload["commonLabels"]["team"] = team
    answer = await _send(api, payload)
    assert answer["team"] == routed
    assert (await _timeline(1))[0] == f"Triggered: PostgresDown is firing. {reason}"


async def test_a_key_bound_to_a_team_places_alerts_naming_none(api):
    key = await api_keys.ApiKeys().create("payments-am", team="payments", service="ledger")
    payload = _group(*ALERTMANAGER_0_25["alerts"])
    payload["commonLabels"] = {"alertname": "PostgresDown"}
    answer = await _send(api, payload, {"Authorization": f"Bearer {key}"})
    assert answer["team"] == "payments"
    incident = await _incident()
    assert incident.service == "ledger"
    assert (await _timeline(1))[0].endswith("Routed to payments: API key 'payments-am' is bound to it")


async def test_a_rule_sees_the_worst_firing_severity(api):
    platform = await Team.aget(Team.name == "platform")
    await RoutingRuleRow.acreate(position=1, match={"severity": "critical", "job": "postgres-*"}, team=platform,
                                 priority="LOW", service="databases")
    answer = await _send(api, ALERTMANAGER_0_25)
    assert answer["team"] == "platform"
    incident = await _incident()
    assert (incident.priority, incident.service) == ("LOW", "databases")


async def test_a_large_group_lists_its_oldest_firing_alerts_and_counts_the_rest(api):
    await _send(api, _group(*(_alert(0, instance=f"node-{n:02d}") for n in range(30))))
    await _send(api, _group(*(_alert(0, "resolved" if n < 3 else "firing", instance=f"node-{n:02d}") for n in range(31))))
    incident = await _incident()
    lines = incident.body.splitlines()
    assert lines[0] == "Firing: 28 of 31 alert(s) seen" and incident.alert_count == 31
    assert lines[1].startswith("- [warning] PostgresDown node-03: ") and len(lines) == 1 + 25 + 1
    assert lines[-1] == "- … and 3 more firing"
