"""Schedules fed by a calendar (ical_url), against a local HTTP server serving exports shaped
like PagerDuty's (UTC times, an attendee's email) and Grafana OnCall's (a weekly recurrence in a
time zone, the username as summary), on SQLite and PostgreSQL; a failing feed keeps its last
good copy and says so."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from app import create_app
from bot.app_keys import FEEDS_KEY, SERVICE_KEY
from incidents.directory import PeopleDirectory
from storage.enums import Channel
from tests.fakes.channel import FixedClock, ScriptedChannel

PAGERDUTY = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//PagerDuty Inc.//PagerDuty Schedules//EN\r
X-WR-CALNAME:On Call Schedule for Payments Primary\r
BEGIN:VEVENT\r
UID:Q1ABCDEF-1\r
DTSTAMP:20261201T000000Z\r
DTSTART:20261210T080000Z\r
DTEND:20261211T080000Z\r
SUMMARY:On Call - Alice Example - Payments Primary\r
ATTENDEE;CN=Alice Example:mailto:alice@example.com\r
URL:https://acme.pagerduty.com/schedules#P123ABC\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:Q1ABCDEF-2\r
DTSTAMP:20261201T000000Z\r
DTSTART:20261211T080000Z\r
DTEND:20261212T080000Z\r
SUMMARY:On Call - Zoe Nobody - Payments Primary\r
ATTENDEE;CN=Zoe Nobody:mailto:zoe@elsewhere.example\r
END:VEVENT\r
END:VCALENDAR\r
"""
ONCALL = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Grafana Labs//Grafana OnCall//\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:oncall-shift-1\r
DTSTAMP:20261201T000000Z\r
DTSTART;TZID=Europe/Berlin:20261207T090000\r
DTEND;TZID=Europe/Berlin:20261207T170000\r
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r
SUMMARY:bob\r
END:VEVENT\r
END:VCALENDAR\r
"""

PEOPLE = """
[[teams]]
name = "payments"

[[schedules]]
name = "{name}"
time_zone = "Europe/Berlin"
team = "payments"
ical_url = "{url}"

[[users]]
handle = "alice"
name = "Alice Example"
email = "alice@example.com"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob Example"
teams = ["payments"]
"""


@pytest.fixture
async def exports(aiohttp_server):
    state = {"broken": False}

    def serving(body: bytes):
        async def serve(request):
            if state["broken"]:
                return web.Response(status=503)
            return web.Response(body=body, content_type="text/calendar")
        return serve

    server_app = web.Application()
    server_app.router.add_get("/pagerduty.ics", serving(PAGERDUTY))
    server_app.router.add_get("/oncall.ics", serving(ONCALL))
    server = await aiohttp_server(server_app)
    server.state = state
    return server


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    clock = FixedClock(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, clock=clock))
    client.clock = clock
    return client


async def configure(tmp_path, name: str, url: str) -> None:
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE.format(name=name, url=url))
    await PeopleDirectory().apply_file(path)


async def test_a_pagerduty_export_is_matched_by_attendee_and_a_failure_keeps_the_last_copy(ackbot, exports, tmp_path):
    await configure(tmp_path, "imported", str(exports.make_url("/pagerduty.ics")))
    service, refresher = ackbot.app[SERVICE_KEY], ackbot.app[FEEDS_KEY]
    assert await refresher.refresh_due() == 1
    (line,) = await service.on_call(schedule="imported")
    assert (line.current.handle, line.current.start, line.current.end, line.feed_problem) == (
        "alice", datetime(2026, 12, 10, 8, tzinfo=UTC), datetime(2026, 12, 11, 8, tzinfo=UTC), None,
    )
    (after,) = await service.on_call(schedule="imported", at=datetime(2026, 12, 11, 12, tzinfo=UTC))
    assert after.current is None  # Zoe is nobody Ackbot knows

    exports.state["broken"] = True
    assert await refresher.refresh_due() == 0  # not due yet
    ackbot.clock.advance(minutes=6)
    assert await refresher.refresh_due() == 0
    (line,) = await service.on_call(schedule="imported")
    assert line.current.handle == "alice"
    assert line.feed_problem == "calendar feed failing (the feed answered HTTP 503); showing the copy of 2026-12-10 12:00 UTC"
    health = await (await ackbot.get("/healthz")).json()
    assert health["schedule_feeds"] == {"imported": line.feed_problem}


async def test_an_oncall_export_with_a_weekly_recurrence_is_expanded_in_its_zone(ackbot, exports, tmp_path):
    await configure(tmp_path, "grafana", str(exports.make_url("/oncall.ics")))
    service = ackbot.app[SERVICE_KEY]
    assert await ackbot.app[FEEDS_KEY].refresh_due() == 1
    _, shifts = await service.shifts("grafana", datetime(2026, 12, 14, tzinfo=UTC), datetime(2026, 12, 21, tzinfo=UTC))
    assert [(shift.handle, shift.start, shift.end - shift.start) for shift in shifts] == [
        ("bob", datetime(2026, 12, 14 + day, 8, tzinfo=UTC), timedelta(hours=8)) for day in range(5)
    ]


async def test_a_feed_that_never_loaded_says_so(ackbot, tmp_path):
    await configure(tmp_path, "imported", "http://127.0.0.1:9/nothing.ics")
    assert await ackbot.app[FEEDS_KEY].refresh_due() == 0
    (line,) = await ackbot.app[SERVICE_KEY].on_call(schedule="imported")
    assert (line.current, line.feed_problem) == (None, "calendar feed not loaded yet: could not fetch the feed (ClientConnectorError)")


async def test_a_new_feed_url_starts_afresh(ackbot, exports, tmp_path):
    await configure(tmp_path, "imported", str(exports.make_url("/pagerduty.ics")))
    service = ackbot.app[SERVICE_KEY]
    assert await ackbot.app[FEEDS_KEY].refresh_due() == 1
    await configure(tmp_path, "imported", "http://127.0.0.1:9/other.ics")
    (line,) = await service.on_call(schedule="imported")
    assert (line.current, line.feed_problem) == (None, "calendar feed not loaded yet")
