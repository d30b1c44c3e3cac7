"""Heartbeat timeouts as people write and read them, and the incident a silence opens. Pure."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents.heartbeats import HeartbeatError, describe_timeout, missed_trigger, parse_timeout
from storage.models import Heartbeat

CREATED = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [("10m", timedelta(minutes=10)), ("90s", timedelta(seconds=90)), ("2h", timedelta(hours=2)),
     ("1d", timedelta(days=1)), ("600", timedelta(minutes=10)), (" 15M ", timedelta(minutes=15))],
)
def test_timeouts_are_read_in_seconds_minutes_hours_or_days(text, expected):
    assert parse_timeout(text) == expected


@pytest.mark.parametrize("text", ["", "m", "ten minutes", "-5m", "1.5h", "30s", "31d", "10w", "²m"])
def test_a_bad_or_out_of_range_timeout_is_refused_with_the_accepted_forms(text):
    with pytest.raises(HeartbeatError, match="timeout"):
        parse_timeout(text)


@pytest.mark.parametrize(
    "seconds, text",
    [(600, "10 minutes"), (60, "1 minute"), (3600, "1 hour"), (5400, "90 minutes"), (90, "90 seconds"),
     (172800, "2 days")],
)
def test_timeouts_read_as_people_say_them(seconds, text):
    assert describe_timeout(seconds) == text


def test_a_silence_opens_one_incident_per_heartbeat_naming_it_and_its_timeout():
    heartbeat = Heartbeat(id=7, name="nightly-backup", timeout_seconds=600, created_at=CREATED, last_ping_at=None)
    request = missed_trigger(heartbeat, "platform", CREATED + timedelta(minutes=10))
    assert request.title == "No heartbeat from nightly-backup for 10 minutes"
    assert (request.team, request.dedup_key, request.service) == ("platform", "heartbeat:7", "nightly-backup")
    assert "none has come since it was created at 2026-11-28 14:00:00 UTC" in request.body
    pinged = Heartbeat(id=7, name="nightly-backup", timeout_seconds=600, created_at=CREATED,
                       last_ping_at=CREATED + timedelta(minutes=3))
    assert "the last came at 2026-11-28 14:03:00 UTC" in missed_trigger(pinged, None, CREATED).body
