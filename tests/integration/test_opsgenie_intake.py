"""The Opsgenie Alert API through the real application, on SQLite and PostgreSQL: requests as
Alertmanager (base URL + ``v2/alerts``) and Grafana (the full ``…/v2/alerts`` URL) send them
open, deduplicate, update, acknowledge and close incidents; answers and request statuses are
Opsgenie's."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from app import create_app
from incidents import api_keys
from storage.enums import Channel
from storage.fields import utcnow
from storage.models import Incident, IncidentEvent, OpsgenieRequest, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.log_support import assert_logs_clean, rejection_lines
from tests.unit.test_opsgenie_parsing import ALERTMANAGER_CREATE, GRAFANA_CREATE, GROUP_HASH

GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    for name in ("payments", "platform"):
        team = await Team.acreate(name=name, display_name=name.title(), default_route=name == "platform")
        user = await User.acreate(handle=f"{name}-oncall", name=f"{name} on call", email=f"{name}@example.com")
        await TeamMember.acreate(team=team, user=user)
    await api_keys.ApiKeys().create("opsgenie", key=GENIE_KEY)
    client.auth = {"Authorization": f"GenieKey {GENIE_KEY}"}
    return client


async def _incidents() -> list[Incident]:
    return await Incident._meta.database.list(Incident.select().order_by(Incident.id))


async def _call(ackbot, method, path, body=None, headers=None):
    response = await ackbot.request(method, path, json=body, headers=ackbot.auth if headers is None else headers)
    return response.status, await response.json()


async def _accepted(ackbot, method, path, body=None) -> str:
    status, answer = await _call(ackbot, method, path, body)
    assert status == 202, answer
    assert answer["result"] == "Request will be processed" and isinstance(answer["took"], float)
    return answer["requestId"]


async def _request_status(ackbot, request_id, prefix="/v2/alerts") -> dict:
    status, answer = await _call(ackbot, "GET", f"{prefix}/requests/{request_id}")
    assert status == 200, answer
    return answer["data"]


async def test_alertmanager_creates_repeats_updates_and_closes_one_incident(ackbot):
    first = await _accepted(ackbot, "POST", "/v2/alerts", ALERTMANAGER_CREATE)
    data = await _request_status(ackbot, first)
    assert (data["success"], data["isSuccess"], data["action"], data["status"]) == (True, True, "Create", "Created alert")
    assert (data["alertId"], data["alias"]) == ("1", GROUP_HASH)
    assert data["processedAt"].endswith("Z")

    # With update_alerts, Alertmanager re-sends the create, then PUTs message and description.
    repeat = await _accepted(ackbot, "POST", "/v2/alerts", ALERTMANAGER_CREATE)
    assert (await _request_status(ackbot, repeat))["status"] == "Alert is deduplicated"
    query = "?identifierType=alias"
    await _accepted(ackbot, "PUT", f"/v2/alerts/{GROUP_HASH}/message{query}", {"message": "[FIRING:2] PostgresDown"})
    await _accepted(ackbot, "PUT", f"/v2/alerts/{GROUP_HASH}/description{query}", {"description": "db-1 and db-2 down"})
    await _accepted(ackbot, "PUT", f"/v2/alerts/{GROUP_HASH}/message{query}", {"message": "[FIRING:2] PostgresDown"})
    [incident] = await _incidents()
    assert (incident.title, incident.body, incident.alert_count, incident.priority) == (
        "[FIRING:2] PostgresDown", "db-1 and db-2 down", 2, "CRITICAL",
    )
    assert (await Team.aget_by_id(incident.team_id)).name == "payments"
    events = await IncidentEvent._meta.database.list(IncidentEvent.select().where(IncidentEvent.kind == "UPDATED"))
    assert [event.message for event in events] == [
        "Title updated by API key opsgenie via the Opsgenie Alert API",
        "Body updated by API key opsgenie via the Opsgenie Alert API",
    ]

    close = await _accepted(ackbot, "POST", f"/v2/alerts/{GROUP_HASH}/close{query}", {"source": "http://am:9093"})
    assert (await _request_status(ackbot, close))["status"] == "Closed alert"
    [incident] = await _incidents()
    assert (incident.status, incident.resolved_via, incident.resolved_by_name) == (
        "RESOLVED", "OPSGENIE", "API key opsgenie",
    )


@pytest.mark.parametrize("api_url", ["/v2/alerts", "/v2/alerts/v2/alerts"])
async def test_grafana_creates_at_its_url_and_closes_at_url_alias_close(ackbot, api_url):
    """Grafana's apiUrl is the full URL; pasting the same URL into Alertmanager, which appends
    ``v2/alerts``, lands on the second form, which works too."""
    await _accepted(ackbot, "POST", api_url, GRAFANA_CREATE)
    [incident] = await _incidents()
    assert (incident.priority, incident.dashboard_url) == ("HIGH", "http://grafana.example:3000/alerting/list")
    assert (await Team.aget_by_id(incident.team_id)).name == "platform"
    close = await _accepted(ackbot, "POST", f"{api_url}/{GRAFANA_CREATE['alias']}/close?identifierType=alias",
                            {"source": "Grafana"})
    assert (await _request_status(ackbot, close, api_url))["success"] is True
    assert (await _incidents())[0].status == "RESOLVED"


async def test_acknowledge_by_alias_then_close_by_tiny_id_with_a_user(ackbot):
    await _accepted(ackbot, "POST", "/v2/alerts", ALERTMANAGER_CREATE)
    await _accepted(ackbot, "POST", f"/v2/alerts/{GROUP_HASH}/acknowledge?identifierType=alias", {"user": "alice"})
    assert ((await _incidents())[0].status, (await _incidents())[0].acknowledged_by_name) == ("ACKNOWLEDGED", "alice")
    close = await _accepted(ackbot, "POST", "/v2/alerts/1/close?identifierType=tiny")
    assert (await _request_status(ackbot, close))["alias"] == GROUP_HASH
    again = await _accepted(ackbot, "POST", "/v2/alerts/1/close?identifierType=tiny")
    assert (await _request_status(ackbot, again))["status"] == "Alert is already resolved"


async def test_closing_an_alert_that_does_not_exist_is_accepted_and_its_status_says_so(ackbot):
    request_id = await _accepted(ackbot, "POST", "/v2/alerts/no-such-alias/close?identifierType=alias", {})
    data = await _request_status(ackbot, request_id)
    assert (data["success"], data["action"], data["status"], data["alertId"]) == (False, "Close", "Alert does not exist", "")
    not_a_number = await _accepted(ackbot, "POST", "/v2/alerts/8743a1b2-11da-480e-8493-744660987bef/close")
    assert (await _request_status(ackbot, not_a_number))["status"] == "Alert does not exist"


async def test_a_create_without_alias_opens_a_new_incident_each_time(ackbot):
    for _ in range(2):
        await _accepted(ackbot, "POST", "/v2/alerts", {"message": "Backup failed", "responders": [{"name": "sre", "type": "team"}]})
    incidents = await _incidents()
    assert len(incidents) == 2
    assert {(await Team.aget_by_id(incident.team_id)).name for incident in incidents} == {"platform"}


async def test_request_status_is_only_for_the_key_that_made_the_request(ackbot):
    request_id = await _accepted(ackbot, "POST", "/v2/alerts", ALERTMANAGER_CREATE)
    other = "0f0e0d0c-0b0a-4909-8807-060504030201"
    await api_keys.ApiKeys().create("other", key=other)
    status, answer = await _call(ackbot, "GET", f"/v2/alerts/requests/{request_id}", headers={"Authorization": f"GenieKey {other}"})
    assert status == 404 and answer["message"] == "Request not found. It might not be processed, yet."
    status, _ = await _call(ackbot, "GET", f"/v2/alerts/requests/{uuid.uuid4()}")
    assert status == 404


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": f"Bearer {GENIE_KEY}"}, {"Authorization": "GenieKey 00000000-0000-0000-0000-000000000000"},
])
async def test_a_missing_or_unknown_key_gets_401_and_one_log_line_without_it(ackbot, headers, caplog):
    caplog.set_level(logging.DEBUG)
    status, answer = await _call(ackbot, "POST", "/v2/alerts", ALERTMANAGER_CREATE, headers=headers)
    assert (status, answer["message"]) == (401, "Could not authenticate") and "requestId" in answer
    assert await _incidents() == []
    assert len(rejection_lines(caplog)) == 1
    assert_logs_clean(caplog, GENIE_KEY, "PostgresDown")


async def test_bad_bodies_get_opsgenies_400_and_422(ackbot):
    response = await ackbot.post("/v2/alerts", data=b"{nope", headers={**ackbot.auth, "Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["message"] == "Invalid JSON body"
    status, answer = await _call(ackbot, "POST", "/v2/alerts", {"description": "no message"})
    assert (status, answer["errors"]) == (422, {"message": "Message can not be empty."})
    status, answer = await _call(ackbot, "POST", "/v2/alerts/x/close?identifierType=fingerprint", {})
    assert status == 422 and "identifierType" in answer["errors"]
    assert await _incidents() == []


async def test_request_outcomes_are_kept_seven_days(ackbot):
    old = await _accepted(ackbot, "POST", "/v2/alerts", {"message": "Backup failed"})
    await OpsgenieRequest.update(processed_at=utcnow() - timedelta(days=8)).where(
        OpsgenieRequest.request_id == old
    ).aexecute()
    recent = await _accepted(ackbot, "POST", "/v2/alerts", {"message": "Backup failed again"})
    assert (await _call(ackbot, "GET", f"/v2/alerts/requests/{old}"))[0] == 404
    assert (await _request_status(ackbot, recent))["status"] == "Created alert"
