"""Applying schedules from the people file on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest

from incidents.directory import DirectoryError, PeopleDirectory
from storage.database import database
from storage.models import EscalationLevel, LevelSchedule, OnCallSchedule, Team

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"
LEVEL_WITH_SCHEDULE = ('users = ["carol"]\n', 'users = ["carol"]\nschedules = ["payments-primary"]\n')


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text()
    for old, new in replacements:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    path = tmp_path / "people.toml"
    path.write_text(text)
    return path


async def level_schedules() -> set[tuple[str, int, str]]:
    query = (
        LevelSchedule.select(Team.name, EscalationLevel.level, OnCallSchedule.name)
        .join_from(LevelSchedule, EscalationLevel).join_from(EscalationLevel, Team)
        .join_from(LevelSchedule, OnCallSchedule)
    )
    return await database.run(lambda: set(query.tuples()))


async def test_the_example_schedule_is_stored_and_applying_again_changes_nothing(storage):
    await PeopleDirectory().apply_file(EXAMPLE)
    schedule = await OnCallSchedule.aget(OnCallSchedule.name == "payments-primary")
    team = await Team.aget(Team.name == "payments")
    assert (schedule.time_zone, schedule.team_id) == ("Europe/Berlin", team.id)
    assert schedule.definition == {
        "rotations": [
            {"users": ["bob", "carol"], "start": "2026-12-07T15:00", "shift": "1w", "days": [], "hours": None},
            {"users": ["alice"], "start": "2026-12-07T08:00", "shift": "1d",
             "days": ["mon", "tue", "wed", "thu", "fri"], "hours": "08:00-18:00"},
        ],
        "overrides": [{"user": "carol", "start": "2026-12-24T18:00", "end": "2026-12-27T09:00"}],
    }
    assert "nothing changed" in await PeopleDirectory().apply_file(EXAMPLE)
    assert (await OnCallSchedule.aget(OnCallSchedule.name == "payments-primary")).updated_at == schedule.updated_at


async def test_a_level_pages_a_schedule_and_the_change_is_written_once(storage, tmp_path):
    path = edited(tmp_path, LEVEL_WITH_SCHEDULE)
    summary = await PeopleDirectory().apply_file(path)
    assert "level schedules changed for 1 team" in summary
    assert await level_schedules() == {("payments", 2, "payments-primary")}
    assert "nothing changed" in await PeopleDirectory().apply_file(path)
    await PeopleDirectory().apply_file(EXAMPLE)
    assert await level_schedules() == set()


async def test_changing_a_shift_updates_only_the_schedule(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    summary = await PeopleDirectory().apply_file(edited(tmp_path, ('shift = "1d"', 'shift = "2d"')))
    assert summary.endswith("users 0 created, 0 updated; schedules 0 created, 1 updated")
    schedule = await OnCallSchedule.aget(OnCallSchedule.name == "payments-primary")
    assert schedule.definition["rotations"][1]["shift"] == "2d"


@pytest.mark.parametrize("replacement, expected", [
    (('users = ["bob", "carol"]', 'users = ["bob", "zoe"]'),
     'schedules[1] (payments-primary): rotations[1]: users: unknown user "zoe": not in this file or the database'),
    (('user = "carol"', 'user = "zoe"'),
     'schedules[1] (payments-primary): overrides[1]: user: unknown user "zoe": not in this file or the database'),
    (('team = "payments"                 #', 'team = "billing"  #'),
     'schedules[1] (payments-primary): team: unknown team "billing": not in this file or the database'),
    (('users = ["carol"]\n', 'users = ["carol"]\nschedules = ["nights"]\n'),
     'teams[1] (payments): escalation_levels[2]: schedules: unknown schedule "nights": not in this file or the database'),
])
async def test_an_unknown_name_is_refused_and_nothing_is_written(storage, tmp_path, replacement, expected):
    path = edited(tmp_path, replacement)
    with pytest.raises(DirectoryError) as raised:
        await PeopleDirectory().apply_file(path)
    assert str(raised.value) == f"{path}: {expected}"
    assert await database.run(lambda: OnCallSchedule.select().count()) == 0
    assert await database.run(lambda: Team.select().count()) == 0
