"""The schedule computation on a fixed clock: DST both ways in three zones, hour shifts across
DST, windows crossing midnight, layers, overrides, before the start; and properties checked
against a brute-force replay of hand-offs."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.schedules.model import (
    WHOLE_DAY,
    Override,
    Rotation,
    Schedule,
    ShiftLength,
    Window,
    parse_shift_length,
    parse_window,
)
from incidents.schedules.oncall import next_shifts, on_call, shift_at, shifts
from incidents.schedules.times import to_instant

BERLIN, NEW_YORK, SYDNEY = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Sydney")
MON_FRI = frozenset(range(5))


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def schedule(zone, *rotations, overrides=()) -> Schedule:
    return Schedule("payments-primary", zone, tuple(rotations), tuple(overrides))


def rotation(people, start, shift, days=frozenset(), window=WHOLE_DAY) -> Rotation:
    return Rotation(tuple(people), datetime.fromisoformat(start), parse_shift_length(shift), days, window)


def who(sched: Schedule, instant: datetime) -> str | None:
    answer = on_call(sched, instant)
    return answer.handle if answer else None


# --- the local-time rules --------------------------------------------------------------------


def test_a_local_time_in_a_dst_gap_moves_forward_to_the_first_valid_instant():
    assert to_instant(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert to_instant(datetime(2026, 3, 8, 2, 15), NEW_YORK) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert to_instant(datetime(2026, 10, 4, 2, 0), SYDNEY) == utc(2026, 10, 3, 16, 0)  # 03:00 AEDT


def test_a_repeated_local_time_means_its_first_occurrence():
    assert to_instant(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)  # CEST
    assert to_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)  # EDT
    assert to_instant(datetime(2026, 4, 5, 2, 30), SYDNEY) == utc(2026, 4, 4, 15, 30)  # AEDT


def test_shift_lengths_and_windows_are_read_strictly():
    assert parse_shift_length("12h") == ShiftLength(12, "h")
    assert parse_shift_length("1W") == ShiftLength(1, "w")
    assert [parse_shift_length(text) for text in ("0d", "1.5h", "3m", "d", "53w", "")] == [None] * 6
    assert parse_window("22:00-06:00") == Window(time(22), time(6))
    assert parse_window("22:00-06:00").crosses_midnight
    assert [parse_window(text) for text in ("24:00-01:00", "9:00-17:00", "09:00 - 17:00", "09:60-10:00")] == [None] * 4


# --- day and week shifts keep the wall clock across DST ---------------------------------------


def test_daily_hand_offs_keep_09_00_in_berlin_when_clocks_go_forward_and_back():
    spring = schedule(BERLIN, rotation(["alice", "bob"], "2026-03-28T09:00", "1d"))
    assert who(spring, utc(2026, 3, 28, 8, 0)) == "alice"  # 09:00 CET
    assert who(spring, utc(2026, 3, 29, 6, 59)) == "alice"  # 08:59 CEST: a 23-hour shift
    assert who(spring, utc(2026, 3, 29, 7, 0)) == "bob"  # 09:00 CEST
    autumn = schedule(BERLIN, rotation(["alice", "bob"], "2026-10-24T09:00", "1d"))
    assert who(autumn, utc(2026, 10, 25, 7, 59)) == "alice"  # 08:59 CET: a 25-hour shift
    assert who(autumn, utc(2026, 10, 25, 8, 0)) == "bob"
    assert shift_at(autumn, utc(2026, 10, 24, 12)).duration() == timedelta(hours=25)


def test_weekly_hand_offs_keep_the_wall_clock_in_new_york_and_sydney():
    new_york = schedule(NEW_YORK, rotation(["alice", "bob"], "2026-03-02T09:00", "1w"))
    assert who(new_york, utc(2026, 3, 9, 12, 59)) == "alice"  # 08:59 EDT
    assert who(new_york, utc(2026, 3, 9, 13, 0)) == "bob"  # 09:00 EDT, 167 hours after 09:00 EST
    autumn = schedule(NEW_YORK, rotation(["alice", "bob"], "2026-10-26T09:00", "1w"))
    assert shift_at(autumn, utc(2026, 10, 30)).duration() == timedelta(hours=169)
    sydney = schedule(SYDNEY, rotation(["alice", "bob"], "2026-04-01T09:00", "1w"))
    assert who(sydney, utc(2026, 4, 7, 22, 59)) == "alice"  # 08:59 AEST on Wednesday
    assert who(sydney, utc(2026, 4, 7, 23, 0)) == "bob"
    spring = schedule(SYDNEY, rotation(["alice", "bob"], "2026-09-30T09:00", "1w"))
    assert shift_at(spring, utc(2026, 10, 1)).duration() == timedelta(hours=167)


def test_hour_shifts_count_elapsed_hours_across_dst():
    sched = schedule(NEW_YORK, rotation(["alice", "bob"], "2026-03-07T20:00", "12h"))  # 01:00 UTC
    assert who(sched, utc(2026, 3, 8, 12, 59)) == "alice"
    assert who(sched, utc(2026, 3, 8, 13, 0)) == "bob"  # 09:00 EDT, not 08:00: twelve real hours
    listed = shifts(sched, utc(2026, 3, 8, 1), utc(2026, 3, 9, 1))
    assert [(shift.handle, shift.duration()) for shift in listed] == [("alice", timedelta(hours=12)), ("bob", timedelta(hours=12))]
    sydney = schedule(SYDNEY, rotation(["alice", "bob", "carol"], "2026-04-04T18:00", "8h"))
    assert [shift.duration() for shift in shifts(sydney, utc(2026, 4, 4, 7), utc(2026, 4, 5, 7))] == [timedelta(hours=8)] * 3


def test_a_start_in_a_gap_hands_off_at_the_first_valid_instant_then_at_its_wall_clock():
    sched = schedule(BERLIN, rotation(["alice", "bob"], "2026-03-29T02:30", "1d"))
    assert who(sched, utc(2026, 3, 29, 0, 59)) is None
    assert who(sched, utc(2026, 3, 29, 1, 0)) == "alice"  # 03:00 CEST
    assert who(sched, utc(2026, 3, 30, 0, 30)) == "bob"  # 02:30 CEST the next day


# --- restrictions ----------------------------------------------------------------------------


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts():
    nights = schedule(BERLIN, rotation(["alice"], "2026-01-05T00:00", "1w", days=frozenset({4}), window=Window(time(22), time(6))))
    assert who(nights, utc(2026, 1, 9, 22)) == "alice"  # Friday 23:00
    assert who(nights, utc(2026, 1, 10, 4)) == "alice"  # Saturday 05:00, Friday's window
    assert who(nights, utc(2026, 1, 10, 5)) is None  # Saturday 06:00
    assert who(nights, utc(2026, 1, 10, 22)) is None  # Saturday 23:00
    assert who(nights, utc(2026, 1, 9, 4)) is None  # Friday 05:00 belongs to Thursday


def test_a_night_window_across_the_dst_change_is_shorter_or_longer():
    nights = Window(time(22), time(6))
    sched = schedule(BERLIN, rotation(["alice"], "2026-03-01T00:00", "1w", window=nights))
    spring = [shift.duration() for shift in shifts(sched, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))]
    assert spring == [timedelta(hours=7)]
    autumn = [shift.duration() for shift in shifts(sched, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))]
    assert autumn == [timedelta(hours=9)]


def test_the_turn_advances_by_the_shift_clock_outside_the_weekdays():
    weekdays = schedule(BERLIN, rotation(["alice", "bob", "carol"], "2026-01-05T09:00", "1d", days=MON_FRI))
    week = [who(weekdays, utc(2026, 1, 5, 12) + timedelta(days=n)) for n in range(8)]
    assert week == ["alice", "bob", "carol", "alice", "bob", None, None, "bob"]


def test_the_last_listed_layer_with_someone_wins():
    base = rotation(["alice", "bob"], "2026-01-05T09:00", "1w")
    daytime = rotation(["carol"], "2026-01-05T00:00", "1d", days=MON_FRI, window=Window(time(9), time(17)))
    sched = schedule(BERLIN, base, daytime)
    assert on_call(sched, utc(2026, 1, 5, 10)).handle == "carol"
    assert on_call(sched, utc(2026, 1, 5, 10)).layer == 2
    assert on_call(sched, utc(2026, 1, 5, 17)).handle == "alice"  # 18:00
    assert on_call(sched, utc(2026, 1, 10, 10)).layer == 1  # Saturday
    day = [(s.handle, s.start.hour, s.end.hour) for s in shifts(sched, utc(2026, 1, 6, 0), utc(2026, 1, 7, 0))]
    assert day == [("alice", 0, 8), ("carol", 8, 16), ("alice", 16, 0)]


def test_an_override_wins_over_every_layer_and_is_marked():
    base = rotation(["alice", "bob"], "2026-12-07T09:00", "1w")
    holiday = Override("dave", utc(2026, 12, 24, 17), utc(2026, 12, 27, 8))
    sched = schedule(BERLIN, base, overrides=[holiday])
    assert on_call(sched, utc(2026, 12, 25)).override == holiday
    assert on_call(sched, utc(2026, 12, 25)).layer is None
    listed = shifts(sched, utc(2026, 12, 24), utc(2026, 12, 28))
    assert [(s.handle, s.start, s.end, s.override) for s in listed] == [
        ("alice", utc(2026, 12, 24), utc(2026, 12, 24, 17), False),
        ("dave", utc(2026, 12, 24, 17), utc(2026, 12, 27, 8), True),
        ("alice", utc(2026, 12, 27, 8), utc(2026, 12, 28), False),
    ]


def test_nobody_is_on_call_before_the_start():
    sched = schedule(SYDNEY, rotation(["alice"], "2026-12-07T09:00", "1d"))
    assert on_call(sched, utc(2026, 12, 6, 21, 59)) is None
    assert who(sched, utc(2026, 12, 6, 22)) == "alice"
    assert shifts(sched, utc(2026, 12, 1), utc(2026, 12, 6, 22)) == []


def test_next_shifts_start_with_the_whole_current_one():
    sched = schedule(BERLIN, rotation(["alice", "bob"], "2026-01-05T09:00", "1w"))
    upcoming = next_shifts(sched, utc(2026, 1, 7), 2)
    assert [(s.handle, s.start) for s in upcoming] == [
        ("alice", utc(2026, 1, 5, 8)), ("bob", utc(2026, 1, 12, 8)), ("alice", utc(2026, 1, 19, 8)),
    ]


# --- properties ------------------------------------------------------------------------------


def replay(rot: Rotation, zone, instant: datetime) -> str | None:
    """Brute force: walk the hand-offs one by one from the start, counting those passed."""
    local = rot.start
    moment = to_instant(local, zone)
    if instant < moment:
        return None
    turn = 0
    while True:
        if rot.shift.is_hours:
            following = moment + timedelta(hours=rot.shift.count)
        else:
            local += timedelta(days=rot.shift.days)
            following = to_instant(local, zone)
        if following > instant:
            break
        moment, turn = following, turn + 1
    return rot.people[turn % len(rot.people)] if inside(rot, zone, instant) else None


def inside(rot: Rotation, zone, instant: datetime) -> bool:
    """Brute force: every window from the rotation's start day up to the instant."""
    if not rot.restricted:
        return True
    day = rot.start.date() - timedelta(days=1)
    while day <= instant.astimezone(zone).date():
        if not rot.days or day.weekday() in rot.days:
            end_day = day + timedelta(days=1) if rot.window.crosses_midnight else day
            start = to_instant(datetime.combine(day, rot.window.start), zone)
            if start <= instant < to_instant(datetime.combine(end_day, rot.window.end), zone):
                return True
        day += timedelta(days=1)
    return False


zones = st.sampled_from([BERLIN, NEW_YORK, SYDNEY])
# Starts gathered around the 2026 DST changes of all three zones.
starts = st.builds(
    lambda day, minutes: datetime.combine(day, time()) + timedelta(minutes=minutes * 15),
    st.sampled_from([date(2026, 3, 6), date(2026, 3, 27), date(2026, 4, 3), date(2026, 10, 2), date(2026, 10, 23),
                     date(2026, 10, 30)]).flatmap(lambda base: st.integers(0, 4).map(lambda n: base + timedelta(days=n))),
    st.integers(0, 95),
)
lengths = st.one_of(
    st.builds(ShiftLength, st.integers(1, 30), st.just("h")),
    st.builds(ShiftLength, st.integers(1, 9), st.just("d")),
    st.builds(ShiftLength, st.integers(1, 3), st.just("w")),
)
windows = st.one_of(
    st.just(WHOLE_DAY),
    st.builds(lambda a, b: Window(time(a // 4, a % 4 * 15), time(b // 4, b % 4 * 15)), st.integers(0, 95), st.integers(0, 95)),
)
rotations = st.builds(
    Rotation,
    st.lists(st.sampled_from(["alice", "bob", "carol", "dave"]), min_size=1, max_size=4).map(tuple),
    starts, lengths, st.frozensets(st.integers(0, 6), max_size=6), windows,
)


@settings(max_examples=300, deadline=None)
@given(zones, st.lists(rotations, min_size=1, max_size=3), st.integers(-2 * 24 * 60, 60 * 24 * 60))
def test_the_answer_at_any_instant_equals_a_brute_force_replay_of_hand_offs(zone, layers, minutes):
    sched = Schedule("s", zone, tuple(layers))
    instant = to_instant(layers[0].start, zone) + timedelta(minutes=minutes)
    expected = next((h for h in (replay(r, zone, instant) for r in reversed(layers)) if h is not None), None)
    assert who(sched, instant) == expected


@settings(max_examples=100, deadline=None)
@given(
    zones, st.lists(rotations, min_size=1, max_size=2), st.integers(0, 20 * 24),
    st.lists(st.integers(0, 3 * 24 * 60 - 1), min_size=1, max_size=8),
)
def test_listed_shifts_agree_with_the_answer_at_every_instant(zone, layers, hours, probes):
    sched = Schedule("s", zone, tuple(layers))
    start = to_instant(layers[0].start, zone) + timedelta(hours=hours)
    end = start + timedelta(days=3)
    listed = shifts(sched, start, end)
    for minutes in probes:
        instant = start + timedelta(minutes=minutes)
        covering = [shift.handle for shift in listed if shift.start <= instant < shift.end]
        assert covering == ([who(sched, instant)] if who(sched, instant) else [])
    assert all(a.end <= b.start for a, b in pairwise(listed))


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, SYDNEY])
def test_an_hour_rotation_is_never_shifted_by_dst(zone):
    sched = schedule(zone, rotation(["alice", "bob"], "2026-01-01T00:00", "1h"))
    listed = shifts(sched, utc(2026, 3, 1), utc(2026, 12, 1))
    assert {shift.duration() for shift in listed} == {timedelta(hours=1)}


def test_hand_offs_are_due_to_the_person_a_lead_before_and_to_the_team_at_the_hand_off():
    from incidents.handoffs import due_announcements

    sched = schedule(BERLIN, rotation(["alice", "bob"], "2026-01-05T09:00", "1d"))
    lead = timedelta(minutes=15)
    assert due_announcements(sched, utc(2026, 1, 6, 7, 40), lead) == []
    assert [(audience, s.handle) for audience, s in due_announcements(sched, utc(2026, 1, 6, 7, 50), lead)] == [("person", "bob")]
    at_hand_off = due_announcements(sched, utc(2026, 1, 6, 8, 5), lead)
    assert [(audience, s.handle) for audience, s in at_hand_off] == [("team", "bob"), ("person", "bob")]
    assert due_announcements(sched, utc(2026, 1, 6, 8, 11), lead) == []  # past the grace: not announced late
