"""Grafana's webhook contact point and Grafana OnCall's integration URLs through the real
application (create_app), on SQLite and PostgreSQL, with bodies shaped as Grafana 11/12, legacy
Grafana and OnCall senders send them: what the sender gets back and what the database holds."""
from __future__ import annotations

import base64
import json
import logging
import os

import aiohttp
import pytest

from app import create_app, main
from bot.app_keys import DISPATCHER_KEY
from incidents import api_keys
from storage.database import database
from storage.enums import Channel, IncidentStatus, Priority
from storage.models import Incident, IncidentEvent, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.grafana_payloads import GRAFANA, formatted_webhook, grafana_alert, grafana_notification, legacy_grafana

ONCALL_KEY = "Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1"
ALERTMANAGER_BODY = {
    "receiver": "oncall", "status": "firing", "version": "4", "groupKey": '{}:{alertname="DiskFull"}',
    "truncatedAlerts": 0, "externalURL": "http://alertmanager:9093", "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "severity": "critical", "team": "platform"},
    "commonAnnotations": {"summary": "Disk full"},
    "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "severity": "critical", "team": "platform"},
                "annotations": {"summary": "Disk full"}, "startsAt": "2026-11-28T13:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": "1a2b3c4d5e6f7a8b"}],
}


@pytest.fixture
def email():
    return ScriptedChannel(Channel.EMAIL)


@pytest.fixture
async def client(aiohttp_client, settings, email):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: email}))
    team = await Team.acreate(name="platform", display_name="Platform")
    await TeamMember.acreate(team=team, user=await User.acreate(handle="alice", name="Alice", email="alice@example.com"))
    client.key = await api_keys.ApiKeys().create("grafana")
    client.bearer = {"Authorization": f"Bearer {client.key}"}
    await api_keys.ApiKeys().create("oncall", key=ONCALL_KEY)
    return client


async def _incidents() -> list[Incident]:
    return await database.run(lambda: list(Incident.select().order_by(Incident.id)))


async def _send_pages(client) -> None:
    while await client.app[DISPATCHER_KEY].run_once():
        pass


async def test_a_grafana_group_opens_one_incident_updated_as_alerts_join_and_resolve(client, email):
    web1, web2, db1 = grafana_alert("web-1", "warning"), grafana_alert("web-2", "critical"), grafana_alert("db-1")
    first = await client.post("/webhooks/grafana", json=grafana_notification(web1), headers=client.bearer)
    assert first.status == 200
    answer = await first.json()
    assert (answer["deduplicated"], answer["team"], answer["alert_count"]) == (False, "platform", 1)
    await _send_pages(client)
    assert [payload.title for payload in email.sent] == ["CPU high"]

    joined = await client.post("/webhooks/grafana", json=grafana_notification(web1, web2), headers=client.bearer)
    assert (await joined.json())["deduplicated"] is True
    [incident] = await _incidents()
    assert (incident.alert_count, incident.priority) == (2, Priority.CRITICAL)
    assert incident.dashboard_url == f"{GRAFANA}/d/node/node-exporter?orgId=1&viewPanel=3"
    assert "Firing: 2 of 2 alert(s) seen" in incident.body and "High CPU web-2" in incident.body

    partly = grafana_notification(grafana_alert("web-1", status="resolved"), web2, db1)
    await client.post("/webhooks/grafana", json=partly, headers=client.bearer)
    [incident] = await _incidents()
    assert incident.alert_count == 3 and "Firing: 2 of 3 alert(s) seen" in incident.body
    assert "High CPU web-1" not in incident.body and incident.status == IncidentStatus.TRIGGERED
    await _send_pages(client)
    assert len(email.sent) == 1  # nobody paged again

    over = grafana_notification(*(grafana_alert(name, status="resolved") for name in ("web-1", "web-2", "db-1")))
    resolved = await client.post("/webhooks/grafana", json=over, headers=client.bearer)
    assert await resolved.json() == {"incident": incident.id, "resolved": True}
    [incident] = await _incidents()
    assert (incident.status, incident.resolved_by_name, incident.resolved_via) == (IncidentStatus.RESOLVED, "Grafana", "GRAFANA")


async def test_basic_auth_with_the_key_as_password_and_legacy_grafana(client):
    basic = {"Authorization": "Basic " + base64.b64encode(f"grafana:{client.key}".encode()).decode()}
    firing = await client.post("/webhooks/grafana", json=legacy_grafana("alerting"), headers=basic)
    assert firing.status == 200 and (await firing.json())["team"] == "platform"
    [incident] = await _incidents()
    assert (incident.title, incident.priority) == ("High CPU", Priority.CRITICAL)
    assert incident.body.startswith("CPU above 90%\nweb-1: 93.2")
    paused = await client.post("/webhooks/grafana", json=legacy_grafana("paused"), headers=basic)
    assert await paused.json() == {"incident": None, "ignored": True}
    ok = await client.post("/webhooks/grafana", json=legacy_grafana("ok"), headers=basic)
    assert (await ok.json())["resolved"] is True
    assert [row.status for row in await _incidents()] == [IncidentStatus.RESOLVED]


async def test_an_alert_naming_an_unknown_team_is_still_accepted(client):
    alert = grafana_alert("web-1")
    alert["labels"]["team"] = "sre"
    body = grafana_notification(alert)
    body["commonLabels"]["team"] = "sre"
    response = await client.post("/webhooks/grafana", json=body, headers=client.bearer)
    assert response.status == 200
    [incident] = await _incidents()
    events = await database.run(lambda: [row.message for row in IncidentEvent.select()])
    assert incident.team_id is None and any("sre" in message for message in events)


@pytest.mark.parametrize(
    "headers, body, status, field",
    [
        ({}, grafana_notification(grafana_alert("web-1")), 401, None),
        ({"Authorization": "Basic " + base64.b64encode(b"grafana:wrong-key-value-123456").decode()}, {}, 401, None),
        ({"Authorization": "Basic not-base64!"}, {}, 401, None),
        (None, b"{not json", 400, None),
        (None, {**grafana_notification(grafana_alert("web-1")), "groupKey": None}, 422, "groupKey"),
        (None, {"state": "alerting", "ruleName": 5}, 422, "ruleName"),
    ],
)
async def test_bad_grafana_requests_are_refused_naming_the_problem(client, headers, body, status, field):
    headers = client.bearer if headers is None else headers
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    response = await client.post("/webhooks/grafana", headers=headers, **kwargs)
    assert response.status == status
    answer = await response.json()
    assert answer.get("field") == field and answer["error"]
    assert await _incidents() == []


@pytest.mark.parametrize("slash", ["/", ""])
@pytest.mark.parametrize("integration", ["alertmanager", "grafana_alerting"])
async def test_oncall_alert_group_urls_group_by_group_key_and_resolve(client, integration, slash):
    path = f"/integrations/v1/{integration}/{ONCALL_KEY}{slash}"
    for _ in range(2):
        response = await client.post(path, json=ALERTMANAGER_BODY)
        assert response.status == 200 and await response.json() == "Ok."
    grafana = await client.post(path, json=grafana_notification(grafana_alert("web-1")))
    assert await grafana.json() == "Ok."
    disk, cpu = await _incidents()
    assert (disk.title, disk.alert_count, disk.priority) == ("Disk full", 1, Priority.CRITICAL)
    assert cpu.title == "CPU high"
    resolved = {**ALERTMANAGER_BODY, "status": "resolved", "alerts": [{**ALERTMANAGER_BODY["alerts"][0], "status": "resolved"}]}
    await client.post(path, json=resolved)
    disk = await Incident.aget_by_id(disk.id)
    assert (disk.status, disk.resolved_via) == (IncidentStatus.RESOLVED, "ONCALL")


async def test_oncall_grafana_url_groups_by_alertname(client):
    path = f"/integrations/v1/grafana/{ONCALL_KEY}/"
    disk = grafana_alert("db-1")
    disk["labels"]["alertname"] = "Disk full"
    await client.post(path, json=grafana_notification(grafana_alert("web-1"), disk))
    assert sorted(row.dedup_key.rsplit(":", 1)[1] for row in await _incidents()) == ["Disk full", "High CPU"]
    await client.post(path, json=grafana_notification(grafana_alert("web-1"), {**disk, "status": "resolved"}))
    assert [row.status for row in await _incidents()] == [IncidentStatus.TRIGGERED, IncidentStatus.RESOLVED]
    await client.post(path, json=legacy_grafana("alerting"))
    assert len(await _incidents()) == 2  # the legacy rule "High CPU" groups with its alerts


async def test_oncall_webhook_and_formatted_webhook_urls(client):
    webhook = f"/integrations/v1/webhook/{ONCALL_KEY}"
    await client.post(webhook, json={"title": "Backup failed", "url": "https://ci.example.com/7", "team": "platform"})
    await client.post(webhook, json={"title": "Backup failed", "url": "https://ci.example.com/8"})
    [backup] = await _incidents()
    assert (backup.alert_count, backup.dashboard_url) == (2, "https://ci.example.com/7")
    await client.post(webhook, json={"title": "Backup failed", "state": "OK"})
    formatted = f"/integrations/v1/formatted_webhook/{ONCALL_KEY}/"
    assert await (await client.post(formatted, json=formatted_webhook())).json() == "Ok."
    await client.post(formatted, json=formatted_webhook("ok"))
    backup, system_down = await _incidents()
    assert backup.status == system_down.status == IncidentStatus.RESOLVED
    assert system_down.title == "TestAlert: The whole system is down"
    assert system_down.dashboard_url == "https://en.wikipedia.org/wiki/Downtime"


async def test_oncall_webhooks_also_take_form_fields_as_curl_sends_them(client):
    response = await client.post(f"/integrations/v1/formatted_webhook/{ONCALL_KEY}/",
                                 data={"alert_uid": "backup-7", "title": "Backup failed", "state": "alerting"})
    assert response.status == 200
    [incident] = await _incidents()
    assert incident.title == "Backup failed"
    await client.post(f"/integrations/v1/formatted_webhook/{ONCALL_KEY}/", data={"alert_uid": "backup-7", "state": "ok"})
    assert (await Incident.aget_by_id(incident.id)).status == IncidentStatus.RESOLVED
    upload = aiohttp.FormData()
    upload.add_field("file", b"x", filename="x.txt")
    refused = await client.post(f"/integrations/v1/webhook/{ONCALL_KEY}/", data=upload)
    assert refused.status == 400 and (await refused.json())["error"] == "File uploads are not allowed"


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/integrations/v1/webhook/Yr3kq9ZtLm2Pw8YbVn4Cd7Hs1/", {"title": "x"}, 403),
        ("/integrations/v1/webhook/short/", {"title": "x"}, 403),
        (f"/integrations/v1/webhook/{ONCALL_KEY}/", b"not json", 400),
        (f"/integrations/v1/formatted_webhook/{ONCALL_KEY}/", {"title": {"a": 1}}, 422),
        (f"/integrations/v1/alertmanager/{ONCALL_KEY}/", {"version": "4", "status": "firing"}, 422),
        (f"/integrations/v1/zabbix/{ONCALL_KEY}/", {"title": "x"}, 404),
    ],
)
async def test_bad_oncall_requests_are_refused(client, path, body, status):
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    response = await client.post(path, **kwargs)
    assert response.status == status
    assert await _incidents() == []


def test_ackbot_route_reads_a_grafana_sample(tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("ACKBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    people = tmp_path / "people.toml"
    people.write_text('[[teams]]\nname = "platform"\n')
    assert main(["directory", "apply", str(people)]) == 0
    sample = tmp_path / "grafana.json"
    sample.write_text(json.dumps(grafana_notification(grafana_alert("web-1", "critical"))))
    capsys.readouterr()
    assert main(["route", str(sample)]) == 0
    assert capsys.readouterr().out.startswith("format:   grafana\nteam:     platform\npriority: CRITICAL\nservice:  Infrastructure\n")


async def test_a_refused_request_is_logged_as_one_line_without_its_key_or_body(client, caplog):
    secret_key = "Zz9secretKeyValue000111222"
    with caplog.at_level(logging.INFO, logger="ackbot.rejected"):
        await client.post(f"/integrations/v1/webhook/{secret_key}/", json={"title": "body-marker"})
        await client.post(f"/integrations/v1/formatted_webhook/{ONCALL_KEY}/", json={"title": {"body-marker": 1}})
        await client.post("/heartbeats/" + secret_key)
    lines = [record.getMessage() for record in caplog.records if record.name == "ackbot.rejected"]
    assert lines == [
        "rejected POST /integrations/v1/webhook/<token>/: OnCall integration URL with an unknown key (24 bytes)",
        "rejected POST /integrations/v1/formatted_webhook/<token>/: not an OnCall formatted_webhook body (422) (29 bytes)",
        "rejected POST /heartbeats/<token>: heartbeat ping with an unknown key (0 bytes)",
    ]
