"""Private calendar feeds through the real application, on SQLite and PostgreSQL: parsed back
with icalendar, per schedule and per person, overrides included; tokens stored hashed, replaced
and revoked."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

import app
from app import create_app
from bot.access_log import redacted_path
from incidents.directory import PeopleDirectory
from storage.database import database
from storage.enums import Channel
from storage.models import CalendarToken
from tests.fakes.channel import FixedClock, ScriptedChannel

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"


@pytest.fixture
async def web(aiohttp_client, settings):
    clock = FixedClock(datetime(2026, 12, 20, 12, 0, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, clock=clock))
    await PeopleDirectory().apply_file(EXAMPLE)
    client.service = client.app[app.api.SERVICE_KEY]
    return client


async def feed(web, token: str) -> Calendar:
    response = await web.get(f"/calendar/{token}.ics")
    assert response.status == 200 and response.content_type == "text/calendar"
    return Calendar.from_ical(await response.read())


async def test_a_schedule_feed_has_sixty_days_of_shifts_in_its_zone_with_the_override(web):
    calendar = await feed(web, await web.service.calendar_link("payments-primary"))
    assert str(calendar["x-wr-calname"]) == "payments-primary on call"
    assert [str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = calendar.walk("VEVENT")
    starts = [event.decoded("dtstart") for event in events]
    assert all(start.tzinfo is not None and str(start.tzinfo) == "Europe/Berlin" for start in starts)
    assert max(starts) > datetime(2027, 2, 10, tzinfo=UTC) and min(starts) < datetime(2026, 12, 14, tzinfo=UTC)
    christmas = [event for event in events if "override" in str(event["summary"])]
    assert [(str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend")) for e in christmas] == [(
        "On call: payments-primary (Carol Example, override)",
        datetime(2026, 12, 24, 17, tzinfo=UTC), datetime(2026, 12, 27, 8, tzinfo=UTC),
    )]
    assert len({str(event["uid"]) for event in events}) == len(events)


async def test_a_person_feed_has_only_their_shifts_and_a_new_link_replaces_the_old(web):
    old = await web.service.calendar_link("alice")
    token = await web.service.calendar_link("alice")
    assert (await web.get(f"/calendar/{old}.ics")).status == 404
    events = (await feed(web, token)).walk("VEVENT")
    assert events and all(str(event["summary"]) == "On call: payments-primary (Alice Example)" for event in events)
    assert all(event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=10) for event in events)
    stored = await database.run(lambda: [row.token_hash for row in CalendarToken.select()])
    assert token not in stored and all(len(value) == 64 for value in stored)
    assert await web.service.revoke_calendar_links("alice") == 1
    assert (await web.get(f"/calendar/{token}.ics")).status == 404
    assert (await web.get("/calendar/nonsense.ics")).status == 404
    assert redacted_path(f"/calendar/{token}.ics") == "/calendar/<token>"


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    for name in ("ACKBOT_ENCRYPTION_KEYS", "ACKBOT_LOG_LEVEL", "ACKBOT_DATABASE_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://ackbot.example.com")
    assert app.main(["directory", "apply", str(EXAMPLE)]) == 0


def test_the_cli_prints_a_feed_url_and_refuses_unknown_names(cli_env, capsys):
    capsys.readouterr()
    assert app.main(["calendar-link", "payments-primary"]) == 0
    assert capsys.readouterr().out.startswith("https://ackbot.example.com/calendar/ackcal_")
    assert app.main(["calendar-link", "zoe"]) == 1
    assert "no schedule or person named 'zoe'" in capsys.readouterr().err
    assert app.main(["calendar-link", "payments-primary", "--revoke"]) == 0
    assert capsys.readouterr().out == "revoked 1 calendar link(s) of payments-primary\n"
