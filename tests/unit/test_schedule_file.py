"""Schedules in the people file: [[schedules]], their rotations and overrides, and levels naming
them; every problem is named by file, entry and field."""
from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest

from incidents.directory import DirectoryError, parse_people_file
from incidents.schedules.model import ShiftLength, Window

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"

SCHEDULE = """
[[schedules]]
name = "payments-primary"
time_zone = "Europe/Berlin"

[[schedules.rotations]]
users = ["alice", "bob"]
start = "2026-12-07T09:00"
shift = "1w"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(DirectoryError) as raised:
        parse_people_file(path)
    return str(raised.value)


def test_the_example_schedule_is_read_with_its_layers_and_override():
    (schedule,) = parse_people_file(EXAMPLE).schedules
    assert (schedule.name, schedule.time_zone, schedule.team) == ("payments-primary", "Europe/Berlin", "payments")
    base, daytime = schedule.rotations
    assert (base.users, base.start, base.shift, base.days) == (
        ("bob", "carol"), datetime(2026, 12, 7, 15), ShiftLength(1, "w"), frozenset(),
    )
    assert (daytime.days, daytime.hours) == (frozenset(range(5)), Window(time(8), time(18)))
    (override,) = schedule.overrides
    assert (override.user, override.start, override.end) == ("carol", datetime(2026, 12, 24, 18), datetime(2026, 12, 27, 9))


def test_a_level_may_page_schedules_alone_and_toml_local_times_are_accepted(tmp_path):
    text = SCHEDULE.replace('"2026-12-07T09:00"', "2026-12-07T09:00:00") + """
[[teams]]
name = "payments"

[[teams.escalation_levels]]
delay_minutes = 5
schedules = ["payments-primary"]
"""
    directory = parse_people_file(write(tmp_path, text))
    assert directory.teams[0].escalation_levels[0].schedules == ("payments-primary",)
    assert directory.teams[0].escalation_levels[0].users == ()
    assert directory.schedules[0].rotations[0].start == datetime(2026, 12, 7, 9)


ENTRY = "schedules[1] (payments-primary)"
BAD = {
    "unknown zone": (('"Europe/Berlin"', '"Europe/Atlantis"'),
                     f'{ENTRY}: time_zone: unknown time zone "Europe/Atlantis"; expected an IANA time zone name like Europe/Berlin'),
    "no zone": (('time_zone = "Europe/Berlin"\n', ""), f"{ENTRY}: time_zone: missing; it is required"),
    "bad length": (('"1w"', '"3m"'), f'{ENTRY}: rotations[1]: shift: expected a length like 12h, 1d or 1w (at most a year), got "3m"'),
    "too long": (('"1w"', '"60w"'), f'{ENTRY}: rotations[1]: shift: expected a length like 12h, 1d or 1w (at most a year), got "60w"'),
    "zoned start": (('"2026-12-07T09:00"', '"2026-12-07T09:00+01:00"'),
                    f'{ENTRY}: rotations[1]: start: expected a local date and time like "2026-12-07T09:00"'
                    ' (the zone is the schedule\'s time_zone), got "2026-12-07T09:00+01:00"'),
    "far start": (('"2026-12-07T09:00"', '"1026-12-07T09:00"'),
                  f"{ENTRY}: rotations[1]: start: expected a year from 2000 to 2100, got 1026"),
    "bad day": (('shift = "1w"', 'shift = "1w"\ndays = ["mon", "funday"]'),
                f'{ENTRY}: rotations[1]: days: unknown day "funday"; expected mon, tue, wed, thu, fri, sat or sun'),
    "bad hours": (('shift = "1w"', 'shift = "1w"\nhours = "9-17"'),
                  f'{ENTRY}: rotations[1]: hours: expected a daily window like "09:00-17:00" or "22:00-06:00", got "9-17"'),
    "nobody": (('["alice", "bob"]', "[]"), f"{ENTRY}: rotations[1]: users: expected at least one user handle"),
    "unknown key": (('shift = "1w"', 'shift = "1w"\nlength = "1w"'),
                    f"{ENTRY}: rotations[1]: length: unknown key; expected users, start, shift, days or hours"),
}


@pytest.mark.parametrize("replacement, expected", BAD.values(), ids=BAD.keys())
def test_each_schedule_problem_names_the_entry_and_field(tmp_path, replacement, expected):
    path = write(tmp_path, SCHEDULE.replace(*replacement))
    assert error_of(path) == f"{path}: {expected}"


def test_an_override_must_end_after_it_starts_and_names_must_be_unique(tmp_path):
    override = '\n[[schedules.overrides]]\nuser = "dave"\nstart = "2026-12-24T18:00"\nend = "2026-12-24T17:00"\n'
    path = write(tmp_path, SCHEDULE + override)
    assert error_of(path) == f"{path}: {ENTRY}: overrides[1]: end: must be after start (2026-12-24T18:00)"
    path = write(tmp_path, SCHEDULE + SCHEDULE)
    assert error_of(path) == f'{path}: schedules[2] (payments-primary): name: "payments-primary" is also in {ENTRY}'
    path = write(tmp_path, SCHEDULE.split("[[schedules.rotations]]")[0])
    assert error_of(path) == f"{path}: {ENTRY}: rotations: expected at least one rotation, written [[schedules.rotations]], or an ical_url"


def test_a_schedule_may_take_its_shifts_from_a_calendar_feed_instead(tmp_path):
    feed = '[[schedules]]\nname = "imported"\ntime_zone = "UTC"\nical_url = "webcal://example.com/feed.ics"\n'
    (schedule,) = parse_people_file(write(tmp_path, feed)).schedules
    assert (schedule.ical_url, schedule.rotations) == ("webcal://example.com/feed.ics", ())
    path = write(tmp_path, feed.replace("webcal://example.com/feed.ics", "feed.ics"))
    assert error_of(path) == (
        f'{path}: schedules[1] (imported): ical_url: expected an http(s) or webcal URL of an iCalendar feed, got "feed.ics"'
    )
