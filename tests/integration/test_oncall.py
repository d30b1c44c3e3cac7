"""Who is on call, through the API (the real application) and the CLI, for the example people
file's follow-the-sun schedule, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import app
from app import create_app
from incidents import api_keys
from incidents.directory import PeopleDirectory
from storage.enums import Channel
from tests.fakes.channel import FixedClock, ScriptedChannel

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"


@pytest.fixture
async def api(aiohttp_client, settings):
    clock = FixedClock(datetime(2026, 12, 12, 12, 0, tzinfo=UTC))  # a Saturday: Bob's week
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, clock=clock))
    await PeopleDirectory().apply_file(EXAMPLE)
    client.auth = {"Authorization": f"Bearer {await api_keys.ApiKeys().create('monitoring')}"}
    return client


async def get(api, path: str, status: int = 200) -> dict:
    response = await api.get(path, headers=api.auth)
    assert response.status == status, await response.text()
    return await response.json()


async def test_oncall_names_the_person_and_their_whole_shift(api):
    body = await get(api, "/api/v1/oncall?team=payments&next=1")
    assert body == {"oncall": [{
        "schedule": "payments-primary", "time_zone": "Europe/Berlin", "team": "payments", "at": "2026-12-12T12:00:00+00:00",
        "on_call": {"handle": "bob", "name": "Bob Example", "start": "2026-12-11T17:00:00+00:00",
                    "end": "2026-12-14T07:00:00+00:00", "override": False},
        "upcoming": [{"handle": "alice", "name": "Alice Example", "start": "2026-12-14T07:00:00+00:00",
                      "end": "2026-12-14T17:00:00+00:00", "override": False}],
        "feed_problem": None,
    }]}


async def test_a_time_without_a_zone_is_the_schedules_and_an_override_wins(api):
    body = await get(api, "/api/v1/oncall?schedule=payments-primary&at=2026-12-25T13:00")
    assert body["oncall"][0]["on_call"] == {
        "handle": "carol", "name": "Carol Example", "start": "2026-12-24T17:00:00+00:00",
        "end": "2026-12-27T08:00:00+00:00", "override": True,
    }
    assert body["oncall"][0]["at"] == "2026-12-25T12:00:00+00:00"


async def test_shifts_of_a_range_mark_the_override(api):
    body = await get(api, "/api/v1/schedules/payments-primary/shifts?from=2026-12-24T00:00Z&to=2026-12-28T00:00Z")
    assert body["schedule"] == "payments-primary"
    assert [(shift["handle"], shift["start"], shift["end"], shift["override"]) for shift in body["shifts"]] == [
        ("bob", "2026-12-24T00:00:00+00:00", "2026-12-24T07:00:00+00:00", False),  # a night in Bob's week
        ("alice", "2026-12-24T07:00:00+00:00", "2026-12-24T17:00:00+00:00", False),
        ("carol", "2026-12-24T17:00:00+00:00", "2026-12-27T08:00:00+00:00", True),
        ("bob", "2026-12-27T08:00:00+00:00", "2026-12-28T00:00:00+00:00", False),
    ]


@pytest.mark.parametrize("path, status, field", [
    ("/api/v1/oncall?at=tomorrow", 422, "at"),
    ("/api/v1/oncall?at=2026-13-01T00:00", 422, "at"),
    ("/api/v1/oncall?next=many", 422, "next"),
    ("/api/v1/oncall?next=51", 422, "next"),
    ("/api/v1/oncall?team=billing", 404, "team"),
    ("/api/v1/oncall?schedule=nights", 404, "schedule"),
    ("/api/v1/oncall?team=payments&schedule=payments-primary", 422, "schedule"),
    ("/api/v1/schedules/nights/shifts", 404, "name"),
    ("/api/v1/schedules/payments-primary/shifts?from=2026-12-24T00:00&to=2026-12-23T00:00", 422, "to"),
    ("/api/v1/schedules/payments-primary/shifts?from=2026-12-24T00:00&to=2027-12-23T00:00", 422, "to"),
    ("/api/v1/schedules/payments-primary/shifts?from=0", 422, "from"),
])
async def test_bad_queries_get_a_4xx_naming_the_field(api, path, status, field):
    body = await get(api, path, status)
    assert body["field"] == field and body["error"]


async def test_oncall_needs_an_api_key(api):
    assert (await api.get("/api/v1/oncall")).status == 401


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    for name in ("ACKBOT_ENCRYPTION_KEYS", "ACKBOT_LOG_LEVEL", "ACKBOT_DATABASE_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert app.main(["directory", "apply", str(EXAMPLE)]) == 0


def test_the_cli_answers_in_json_and_in_text(cli_env, capsys):
    capsys.readouterr()
    assert app.main(["oncall", "payments-primary", "--at", "2026-12-12T13:00", "--json"]) == 0
    (line,) = json.loads(capsys.readouterr().out)["oncall"]
    assert (line["on_call"]["handle"], line["on_call"]["start"]) == ("bob", "2026-12-11T17:00:00+00:00")
    assert app.main(["oncall", "payments", "--at", "2026-12-25T12:00Z", "--next", "1"]) == 0
    assert capsys.readouterr().out == (
        "payments-primary: Carol Example (carol) by override, Thu 24 Dec 18:00 CET – Sun 27 Dec 09:00 CET"
        " (your time Thu 24 Dec 17:00 UTC – Sun 27 Dec 08:00 UTC)\n"
        "  then Bob Example (bob), Sun 27 Dec 09:00 CET – Mon 28 Dec 08:00 CET"
        " (your time Sun 27 Dec 08:00 UTC – Mon 28 Dec 07:00 UTC)\n"
    )


def test_the_cli_refuses_unknown_names_and_bad_times(cli_env, capsys):
    assert app.main(["oncall", "nights"]) == 1
    assert "no schedule or team named 'nights'" in capsys.readouterr().err
    assert app.main(["oncall", "--at", "noon"]) == 1
    assert "--at: expected a time like 2026-12-07T09:00" in capsys.readouterr().err
