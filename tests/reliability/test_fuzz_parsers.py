"""Hypothesis fuzzing of what outsiders send: the intake API, the Alertmanager webhook and the
command grammar. Nothing may crash or answer 500; bad input is refused with a clear status."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import create_app
from bot.commands import HELP, parse_command
from incidents import api_keys
from incidents.intake import IntakeError, parse_alertmanager, parse_incident_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
incident_fields = st.fixed_dictionaries(
    {},
    optional={
        "title": json_values | st.text(max_size=600), "body": json_values, "priority": json_values
        | st.sampled_from(["critical", "HIGH", "info", "urgent"]), "service": json_values, "team": json_values,
        "dedup_key": json_values, "dashboard_url": json_values | st.sampled_from(["https://x.example/d", "ftp://x"]),
    },
)


@given(incident_fields | json_values)
def test_incident_parsing_accepts_or_refuses_cleanly(data):
    try:
        request = parse_incident_request(data)
    except IntakeError as error:
        assert error.status in (400, 422) and error.message
    else:
        assert request.title.strip() and len(request.title) <= 500


alerts = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["firing", "resolved"]) | json_values,
            "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=8)) | json_values,
        },
        optional={"annotations": st.dictionaries(st.text(max_size=8), st.text(max_size=30)) | json_values},
    ),
    max_size=4,
)
alertmanager_bodies = st.fixed_dictionaries(
    {"version": st.sampled_from(["4", "3", 4]), "groupKey": st.text(max_size=300) | json_values,
     "status": st.sampled_from(["firing", "resolved", "odd"]), "alerts": alerts | json_values},
    optional={"commonLabels": st.dictionaries(st.text(max_size=8), st.text(max_size=8)) | json_values,
              "commonAnnotations": json_values, "externalURL": json_values, "truncatedAlerts": json_values},
)


@given(alertmanager_bodies | json_values)
def test_alertmanager_parsing_accepts_or_refuses_cleanly(data):
    try:
        group = parse_alertmanager(data)
    except IntakeError as error:
        assert error.status in (400, 422) and error.message
    else:
        assert group.trigger.dedup_key.startswith("alertmanager:") and len(group.trigger.dedup_key) <= 255


@given(st.text(max_size=80))
def test_any_text_is_a_command_or_help(text):
    command = parse_command(text)
    assert command.verb == HELP or command.problem is None


@pytest.fixture
async def api(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={}))
    client.auth = {"Authorization": f"Bearer {await api_keys.ApiKeys().create('fuzz')}", "Content-Type": "application/json"}
    return client


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(incident_fields.map(json.dumps), st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))))
async def test_the_intake_api_never_answers_500(api, body):
    for path in ("/api/v1/incidents", "/webhooks/alertmanager"):
        response = await api.post(path, data=body.encode("utf-8", "surrogatepass"), headers=api.auth)
        assert response.status in (200, 201, 400, 422), await response.text()
        assert "error" in await response.json() or response.status in (200, 201)
