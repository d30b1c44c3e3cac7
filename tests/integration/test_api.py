"""The intake API and Alertmanager webhook through the real application (create_app), on
SQLite and PostgreSQL: what callers get back and what the database then holds."""
from __future__ import annotations

import asyncio
import json

import pytest

from app import create_app
from bot.app_keys import DISPATCHER_KEY
from incidents import api_keys
from storage.enums import Channel
from storage.models import Incident, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel


@pytest.fixture
def channels():
    return {Channel.EMAIL: ScriptedChannel(Channel.EMAIL), Channel.SMS: ScriptedChannel(Channel.SMS)}


async def _seed_team() -> None:
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", phone="+15550100001")
    await TeamMember.acreate(team=team, user=alice)


@pytest.fixture
async def api(aiohttp_client, settings, channels):
    client = await aiohttp_client(create_app(settings, channels=channels))
    await _seed_team()
    client.key = await api_keys.ApiKeys().create("monitoring")
    client.auth = {"Authorization": f"Bearer {client.key}"}
    return client


async def _post(api, path, body, **kwargs):
    return await api.post(path, json=body, headers=api.auth, **kwargs)


async def test_healthz_reports_database_and_channels(api):
    response = await api.get("/healthz")
    body = await response.json()
    assert response.status == 200 and body["database"]["ok"] is True
    assert body["channels"]["email"] == "on"
    assert body["channels"]["teams"] == "off: set ACKBOT_TEAMS_APP_ID"


async def test_requests_without_a_valid_key_get_401(api):
    for headers in ({}, {"Authorization": "Bearer ackbot_wrong"}, {"Authorization": f"Basic {api.key}"}):
        response = await api.post("/api/v1/incidents", json={"title": "x"}, headers=headers)
        assert response.status == 401
        assert "API key" in (await response.json())["error"]
    assert await Incident._meta.database.count(Incident.select()) == 0


async def test_create_then_deduplicate(api):
    body = {"title": "DB primary down", "priority": "critical", "team": "payments", "dedup_key": "db-1", "service": "db"}
    first = await _post(api, "/api/v1/incidents", body)
    assert first.status == 201
    created = await first.json()
    assert (created["number"], created["status"], created["priority"], created["team"]) == (1, "TRIGGERED", "CRITICAL", "payments")
    again = await _post(api, "/api/v1/incidents", body)
    assert again.status == 200
    repeated = await again.json()
    assert (repeated["number"], repeated["alert_count"], repeated["deduplicated"]) == (1, 2, True)


@pytest.mark.parametrize(
    "payload, status, field",
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"body": "no title"}).encode(), 422, "title"),
        (json.dumps({"title": "x", "priority": "urgent"}).encode(), 422, "priority"),
        (json.dumps({"title": "x", "dashboard_url": "javascript:alert(1)"}).encode(), 422, "dashboard_url"),
        (json.dumps({"title": "x", "colour": "red"}).encode(), 422, "colour"),
    ],
)
async def test_bad_input_is_refused_with_a_named_field(api, payload, status, field):
    response = await api.post("/api/v1/incidents", data=payload, headers={**api.auth, "Content-Type": "application/json"})
    assert response.status == status
    body = await response.json()
    assert body.get("field") == field and body["error"]
    assert await Incident._meta.database.count(Incident.select()) == 0


async def test_an_oversized_body_gets_413(api):
    response = await api.post("/api/v1/incidents", data=b"x" * (2 * 1024 * 1024), headers=api.auth)
    assert response.status == 413
    assert "too large" in (await response.json())["error"]


async def test_unknown_incidents_get_404(api):
    for path in ("/api/v1/incidents/99", "/api/v1/incidents/abc"):
        response = await api.get(path, headers=api.auth)
        assert response.status == 404
    response = await _post(api, "/api/v1/incidents/99/acknowledge", None)
    assert response.status == 404


async def test_acknowledge_twice_reports_who_did_it_first(api, channels):
    await _post(api, "/api/v1/incidents", {"title": "x", "team": "payments"})
    await api.app[DISPATCHER_KEY].run_once()
    first = await (await _post(api, "/api/v1/incidents/1/acknowledge", None)).json()
    assert first["changed"] is True and first["incident"]["status"] == "ACKNOWLEDGED"
    second = await (await _post(api, "/api/v1/incidents/1/acknowledge", None)).json()
    assert second["changed"] is False and second["by"] == "API key monitoring" and second["via"] == "API"
    resolved = await (await _post(api, "/api/v1/incidents/1/resolve", None)).json()
    assert resolved["changed"] is True and resolved["incident"]["status"] == "RESOLVED"


async def test_incident_detail_has_notifications_and_timeline(api, channels):
    channels[Channel.SMS].default = "permanent"
    await _post(api, "/api/v1/incidents", {"title": "x", "team": "payments"})
    dispatcher = api.app[DISPATCHER_KEY]
    await dispatcher.run_once()
    body = await (await api.get("/api/v1/incidents/1", headers=api.auth)).json()
    assert [(line["person"], line["channel"], line["status"], line["attempts"]) for line in body["notifications"]] == [
        ("Alice", "EMAIL", "SENT", 1)
    ]
    assert [event["kind"] for event in body["timeline"]] == ["TRIGGERED", "NOTIFIED"]


async def test_listing_filters_by_status(api):
    await _post(api, "/api/v1/incidents", {"title": "one", "team": "payments"})
    await _post(api, "/api/v1/incidents", {"title": "two", "team": "payments"})
    await _post(api, "/api/v1/incidents/1/resolve", None)
    open_ = await (await api.get("/api/v1/incidents", headers=api.auth)).json()
    assert [incident["title"] for incident in open_["incidents"]] == ["two"]
    everything = await (await api.get("/api/v1/incidents?status=all", headers=api.auth)).json()
    assert [incident["title"] for incident in everything["incidents"]] == ["two", "one"]
    bad = await api.get("/api/v1/incidents?status=bogus", headers=api.auth)
    assert bad.status == 422 and (await bad.json())["field"] == "status"


def _alertmanager(status: str, description: str | None = None) -> dict:
    annotations = {"summary": "5xx above 5%", **({"description": description} if description else {})}
    alert = {
        "status": status, "labels": {"alertname": "HighErrorRate", "team": "payments", "severity": "critical"},
        "annotations": annotations, "startsAt": "2026-11-28T14:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph", "fingerprint": "abc",
    }
    return {
        "version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0, "status": status,
        "receiver": "ackbot", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": alert["labels"], "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": "http://alertmanager.example", "alerts": [alert],
    }


async def test_alertmanager_fires_deduplicates_and_resolves(api):
    first = await (await _post(api, "/webhooks/alertmanager", _alertmanager("firing"))).json()
    again = await (await _post(api, "/webhooks/alertmanager", _alertmanager("firing"))).json()
    assert first == {"incident": 1, "deduplicated": False, "team": "payments", "alert_count": 1}
    assert again == {"incident": 1, "deduplicated": True, "team": "payments", "alert_count": 1}
    resolved = await (await _post(api, "/webhooks/alertmanager", _alertmanager("resolved"))).json()
    assert resolved == {"incident": 1, "resolved": True}
    incident = await Incident.aget_by_id(1)
    # The re-sent group carried the same alert (fingerprint): still one alert.
    assert (incident.status, incident.priority, incident.alert_count, incident.resolved_via) == (
        "RESOLVED", "CRITICAL", 1, "ALERTMANAGER")


async def test_an_unknown_team_is_routed_not_refused(api):
    response = await _post(api, "/api/v1/incidents", {"title": "x", "team": "Payments Team"})
    body = await response.json()
    assert response.status == 201
    assert (body["team"], body["routing"]) == (None, "No team 'Payments Team' and no default team: nobody was paged")
    await Team.update(default_route=True).where(Team.name == "payments").aexecute()
    response = await _post(api, "/api/v1/incidents", {"title": "y", "team": "sre"})
    body = await response.json()
    assert (response.status, body["team"], body["routing"]) == (201, "payments", "No team 'sre': routed to payments by default")


async def test_a_bad_alertmanager_payload_names_the_field(api):
    payload = _alertmanager("firing")
    payload["alerts"][0]["status"] = "burning"
    response = await _post(api, "/webhooks/alertmanager", payload)
    assert response.status == 422 and (await response.json())["field"] == "alerts[0].status"


_NESTED = b"[" * 100_000 + b"]" * 100_000
_HUGE_NUMBER = b"9" * 5000


@pytest.mark.parametrize(
    "path, payload, status, field",
    [
        ("/api/v1/incidents", _NESTED, 400, None),
        ("/webhooks/alertmanager", _NESTED, 400, None),
        ("/api/v1/incidents", b'{"title": "x", "body": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, None),
        ("/api/v1/incidents", b'{"title": "x", "priority": ' + _HUGE_NUMBER + b"}", 422, "priority"),
        ("/webhooks/alertmanager", b'{"version": "4", "truncatedAlerts": ' + _HUGE_NUMBER + b"}", 422, "truncatedAlerts"),
        ("/api/v1/incidents", b'{"title": "x", "body": 1e999}', 422, "body"),
        ("/api/v1/incidents", b'{"title": "x", "body": NaN}', 400, None),
        ("/api/v1/incidents", b'{"title": "x", "body": "a\\u0000b"}', 422, "body"),
        ("/api/v1/incidents", b'{"title": "x", "service": "db\\u0000"}', 422, "service"),
        ("/api/v1/incidents", b'{"title": "x", "dedup_key": "\\u0000"}', 422, "dedup_key"),
        ("/api/v1/incidents", b'{"title": "x", "body": "\\ud800"}', 422, "body"),
        ("/webhooks/alertmanager", json.dumps({**_alertmanager("firing"), "groupKey": "{}:\x00"}).encode(), 422, "groupKey"),
        ("/webhooks/alertmanager", json.dumps(_alertmanager("firing", description="down\x00")).encode(), 422,
         "alerts[0].annotations.description"),
    ],
    ids=["deep", "deep alertmanager", "deep field", "huge int", "huge int alertmanager", "huge float", "NaN", "NUL body",
         "NUL service", "NUL dedup_key", "lone surrogate", "NUL groupKey", "NUL annotation"],
)
async def test_hostile_json_is_refused_naming_the_field_alike_on_both_databases(api, path, payload, status, field):
    response = await api.post(path, data=payload, headers={**api.auth, "Content-Type": "application/json"})
    body = await response.json()
    assert (response.status, body.get("field")) == (status, field), body
    assert body["error"]
    assert await Incident._meta.database.count(Incident.select()) == 0


@pytest.mark.parametrize("query, field", [("team=%00", "team"), ("team=no%20such%20team", "team"), ("limit=%C2%B2", "limit"),
                                          ("limit=" + "9" * 5000, "limit")])
async def test_a_bad_listing_query_is_refused_naming_the_parameter(api, query, field):
    response = await api.get(f"/api/v1/incidents?{query}", headers=api.auth)
    assert (response.status, (await response.json())["field"]) == (422, field)


async def test_listing_by_team_reads_the_name_as_intake_does(api):
    await _post(api, "/api/v1/incidents", {"title": "one", "team": "payments"})
    listed = await (await api.get("/api/v1/incidents?team=Payments", headers=api.auth)).json()
    assert [incident["title"] for incident in listed["incidents"]] == ["one"]


async def test_the_running_dispatcher_pages_as_soon_as_an_incident_arrives(aiohttp_client, settings, channels):
    client = await aiohttp_client(create_app(settings.replace(dispatcher=True, poll_interval=30), channels=channels))
    await _seed_team()
    key = await api_keys.ApiKeys().create("monitoring")
    await client.post("/api/v1/incidents", json={"title": "x", "team": "payments"}, headers={"Authorization": f"Bearer {key}"})
    for _ in range(200):
        rows = await NotificationLog._meta.database.list(NotificationLog.select())
        if rows and rows[0].status == "SENT":
            break
        await asyncio.sleep(0.02)
    assert [row.status for row in rows] == ["SENT"]
    assert [payload.title for payload in channels[Channel.EMAIL].sent] == ["x"]


async def test_metrics_show_deliveries_queue_depth_and_request_latency(api, channels):
    channels[Channel.SMS].default = "permanent"
    await _post(api, "/api/v1/incidents", {"title": "x", "team": "payments"})
    await _post(api, "/api/v1/incidents", {"title": "y", "team": "payments"})
    before = await (await api.get("/metrics")).text()
    assert "ackbot_queue_depth 2.0" in before
    await api.app[DISPATCHER_KEY].run_once()
    text = await (await api.get("/metrics")).text()
    assert 'ackbot_notifications_total{channel="EMAIL",kind="ALERT",status="SENT"}' in text
    assert 'ackbot_notification_queued_to_sent_seconds_count{channel="EMAIL"}' in text
    assert "ackbot_queue_depth 0.0" in text and "ackbot_queue_oldest_due_age_seconds 0.0" in text
    assert 'ackbot_request_seconds_count{surface="api"}' in text
