"""``POST /v2/enqueue`` through the real application, on SQLite and PostgreSQL: PagerDuty Events
API v2 events as Alertmanager, pdpyras and Kibana send them open, deduplicate, acknowledge and
resolve incidents, and every answer is the one PagerDuty gives."""
from __future__ import annotations

import asyncio
import copy
import logging
import ssl

import pagerduty
import pytest

from app import create_app
from incidents import api_keys
from storage.enums import Channel
from storage.models import Incident, IncidentEvent, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.fakes.smtp_server import make_certificate
from tests.log_support import assert_logs_clean, rejection_lines
from tests.unit.test_pagerduty_parsing import ALERTMANAGER_TRIGGER, GROUP_HASH, ROUTING_KEY

PROCESSED = {"status": "success", "message": "Event processed"}


def _app(settings):
    return create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)})


async def _seed() -> None:
    for name in ("payments", "platform"):
        team = await Team.acreate(name=name, display_name=name.title(), default_route=name == "platform")
        user = await User.acreate(handle=f"{name}-oncall", name=f"{name} on call", email=f"{name}@example.com")
        await TeamMember.acreate(team=team, user=user)
    await api_keys.ApiKeys().create("pagerduty", team="payments", key=ROUTING_KEY)


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    client = await aiohttp_client(_app(settings))
    await _seed()
    return client


async def _incidents() -> list[Incident]:
    return await Incident._meta.database.list(Incident.select().order_by(Incident.id))


async def _send(ackbot, body, headers=None):
    response = await ackbot.post("/v2/enqueue", json=body, headers=headers)
    return response.status, await response.json()


def _event(action: str, dedup_key: str = GROUP_HASH) -> dict:
    return {"routing_key": ROUTING_KEY, "event_action": action, "dedup_key": dedup_key}


async def test_alertmanager_events_open_deduplicate_and_resolve_one_incident(ackbot):
    assert await _send(ackbot, ALERTMANAGER_TRIGGER) == (202, {**PROCESSED, "dedup_key": GROUP_HASH})
    assert await _send(ackbot, ALERTMANAGER_TRIGGER) == (202, {**PROCESSED, "dedup_key": GROUP_HASH})
    [incident] = await _incidents()
    assert (incident.title, incident.priority, incident.alert_count) == (
        "[FIRING:2] PostgresDown (payments critical)", "CRITICAL", 2,
    )
    assert (await Team.aget_by_id(incident.team_id)).name == "payments"
    pages = await NotificationLog._meta.database.list(NotificationLog.select())
    assert [(page.user_id, page.channel) for page in pages] == [(1, "EMAIL")]

    resolve = {**copy.deepcopy(ALERTMANAGER_TRIGGER), "event_action": "resolve"}
    assert await _send(ackbot, resolve) == (202, {**PROCESSED, "dedup_key": GROUP_HASH})
    [incident] = await _incidents()
    assert (incident.status, incident.resolved_via, incident.resolved_by_name) == (
        "RESOLVED", "PAGERDUTY", "API key pagerduty",
    )

    # After a resolve the same key opens a new incident, as PagerDuty opens a new alert.
    await _send(ackbot, ALERTMANAGER_TRIGGER)
    assert [incident.status for incident in await _incidents()] == ["RESOLVED", "TRIGGERED"]


async def test_acknowledge_then_resolve_by_dedup_key(ackbot):
    await _send(ackbot, ALERTMANAGER_TRIGGER)
    assert (await _send(ackbot, _event("acknowledge")))[0] == 202
    [incident] = await _incidents()
    assert (incident.status, incident.acknowledged_via) == ("ACKNOWLEDGED", "PAGERDUTY")
    await _send(ackbot, _event("resolve"))
    events = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where(IncidentEvent.incident == incident.id).order_by(IncidentEvent.id)
    )
    assert events[-1].message == "Resolved by API key pagerduty via the PagerDuty Events API"


async def test_a_pdpyras_trigger_without_dedup_key_returns_the_generated_key(ackbot):
    body = {
        "event_action": "trigger", "routing_key": ROUTING_KEY,
        "payload": {"summary": "Disk at 99% on web-01", "source": "web-01", "severity": "warning"},
    }
    status, answer = await _send(ackbot, body)
    assert status == 202 and len(answer["dedup_key"]) == 32
    second_status, second = await _send(ackbot, body)
    assert second["dedup_key"] != answer["dedup_key"]
    assert len(await _incidents()) == 2
    await _send(ackbot, _event("resolve", answer["dedup_key"]))
    assert [incident.status for incident in await _incidents()] == ["RESOLVED", "TRIGGERED"]


async def test_kibana_sends_its_routing_key_as_a_header(ackbot):
    body = {
        "event_action": "trigger", "dedup_key": "kibana-rule-42",
        "payload": {"summary": "Error rate above 5%", "source": "Kibana Action 3f1c", "severity": "error"},
        "links": [{"href": "https://kibana.example/app/discover#/view/1", "text": "Discover"}],
    }
    assert await _send(ackbot, body, headers={"X-Routing-Key": ROUTING_KEY}) == (
        202, {**PROCESSED, "dedup_key": "kibana-rule-42"},
    )
    [incident] = await _incidents()
    assert (incident.priority, incident.dashboard_url) == ("HIGH", "https://kibana.example/app/discover#/view/1")
    await _send(ackbot, {"event_action": "resolve", "dedup_key": "kibana-rule-42"}, headers={"X-Routing-Key": ROUTING_KEY})
    assert (await _incidents())[0].status == "RESOLVED"


async def test_an_alert_naming_an_unknown_team_is_accepted_and_routed(ackbot):
    await api_keys.ApiKeys().create("unbound", key="fedcba9876543210fedcba9876543210")
    body = copy.deepcopy(ALERTMANAGER_TRIGGER)
    body["routing_key"] = "fedcba9876543210fedcba9876543210"
    body["payload"]["custom_details"]["team"] = "sre"
    body["payload"]["severity"] = "page-the-world"
    assert (await _send(ackbot, body))[0] == 202
    [incident] = await _incidents()
    assert ((await Team.aget_by_id(incident.team_id)).name, incident.priority) == ("platform", "HIGH")


async def test_acknowledge_or_resolve_for_no_open_incident_is_processed_and_changes_nothing(ackbot):
    assert await _send(ackbot, _event("acknowledge", "nothing-open")) == (202, {**PROCESSED, "dedup_key": "nothing-open"})
    assert await _send(ackbot, _event("resolve", "nothing-open")) == (202, {**PROCESSED, "dedup_key": "nothing-open"})
    assert await _incidents() == []


async def test_an_unknown_routing_key_is_an_invalid_event_and_is_logged_without_the_key(ackbot, caplog):
    caplog.set_level(logging.DEBUG)
    body = {**ALERTMANAGER_TRIGGER, "routing_key": "ffffffffffffffffffffffffffffffff"}
    assert await _send(ackbot, body) == (
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]},
    )
    assert await _incidents() == []
    [rejected] = rejection_lines(caplog)
    assert "POST /v2/enqueue" in rejected and "Invalid routing key" in rejected
    assert_logs_clean(caplog, "ffffffffffffffffffffffffffffffff", "PostgresDown")


@pytest.mark.parametrize("raw, status, errors", [
    (b"{not json", "Unrecognized object", ["JSON parse error"]),
    (b"[]", "Unrecognized object", ["the event must be a JSON object"]),
    (b'{"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "explode"}', "invalid event",
     ["'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"]),
    (b'{"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger", "payload": {}}',
     "invalid event", ["'payload.summary' is missing or blank"]),
    (b'{"event_action": "resolve", "dedup_key": "x"}', "invalid event", ["'routing_key' is missing or blank"]),
])
async def test_invalid_events_get_pagerdutys_400(ackbot, raw, status, errors):
    response = await ackbot.post("/v2/enqueue", data=raw, headers={"Content-Type": "application/json"})
    body = await response.json()
    assert (response.status, body["status"], body["errors"]) == (400, status, errors)
    assert await _incidents() == []


async def test_an_event_over_512_kb_is_refused_and_one_alertmanager_trimmed_to_fit_is_not(ackbot):
    body = copy.deepcopy(ALERTMANAGER_TRIGGER)
    body["payload"]["custom_details"]["firing"] = "x" * (512 * 1024)
    status, answer = await _send(ackbot, body)
    assert (status, answer["errors"]) == (400, ["Event object is too large (at most 512 KB)"])
    body["payload"]["custom_details"]["firing"] = "x" * 500_000
    assert (await _send(ackbot, body))[0] == 202
    [incident] = await _incidents()
    assert len(incident.body) == 20_000


async def test_pagerdutys_own_python_client_triggers_acknowledges_and_resolves(aiohttp_server, settings, tmp_path):
    """The ``pagerduty`` package (pdpyras's successor) with only its base URL changed. It insists
    on https, so Ackbot is served with a test certificate here; the client is synchronous, so it
    runs in a thread while the server answers."""
    certificate, key = make_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate, key)
    server = await aiohttp_server(_app(settings), ssl=tls)
    await _seed()
    trust = ssl.create_default_context(cafile=str(certificate))
    base_url = str(server.make_url("")).rstrip("/")
    client = pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=base_url, verify=trust)
    dedup_key = await asyncio.to_thread(
        client.trigger, "Disk at 99% on web-01", "web-01", severity="error", custom_details={"free": "1%"},
        links=[{"href": "https://grafana.example/d/disk", "text": "Disk"}],
    )
    [incident] = await _incidents()
    assert (incident.dedup_key, incident.priority, incident.dashboard_url) == (
        dedup_key, "HIGH", "https://grafana.example/d/disk",
    )
    assert "free: 1%" in incident.body
    await asyncio.to_thread(client.acknowledge, dedup_key)
    assert (await _incidents())[0].status == "ACKNOWLEDGED"
    await asyncio.to_thread(client.resolve, dedup_key)
    assert (await _incidents())[0].status == "RESOLVED"
    stranger = pagerduty.EventsApiV2Client("f" * 32, base_url=base_url, verify=trust)
    with pytest.raises(pagerduty.Error):
        await asyncio.to_thread(stranger.trigger, "x", "y")
    assert len(await _incidents()) == 1
