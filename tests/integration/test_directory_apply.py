"""Applying the people file on SQLite and PostgreSQL, and through the CLI."""
from __future__ import annotations

from pathlib import Path

import pytest

import app
import incidents.directory_sync as directory_sync
from channels.registry import DEFAULT_CHANNEL_ESCALATION
from incidents.directory import (
    DirectoryError,
    PeopleDirectory,
    channel_tiers_for,
    escalation_levels_for,
)
from incidents.tiers import ChannelEscalationConfig
from storage.database import database
from storage.enums import Channel
from storage.models import ChannelPreference, EscalationLevel, EscalationTarget, RoutingRuleRow, Team, TeamMember, User

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"
DIRECTORY_MODELS = (Team, User, TeamMember, ChannelPreference, EscalationLevel, EscalationTarget, RoutingRuleRow)


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The example file with each (old, new) replaced once, written to tmp_path."""
    text = EXAMPLE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "people.toml"
    path.write_text(text)
    return path


def _snapshot() -> dict[str, list[dict]]:
    return {
        model.__name__: list(model.select().order_by(model._meta.primary_key).dicts())
        for model in DIRECTORY_MODELS
    }


async def snapshot() -> dict[str, list[dict]]:
    """Every row of every directory table, with every column."""
    return await database.run(_snapshot)


def pop_user(rows: dict[str, list[dict]], handle: str) -> dict:
    """Take the row of the user ``handle`` out of a snapshot."""
    row = next(row for row in rows["User"] if row["handle"] == handle)
    rows["User"].remove(row)
    return row


async def ids(model, column) -> dict[str, int]:
    return await database.run(lambda: dict(model.select(column, model.id).tuples()))


async def memberships() -> set[tuple[str, str]]:
    query = TeamMember.select(User.handle, Team.name).join_from(TeamMember, User).join_from(TeamMember, Team)
    return await database.run(lambda: set(query.tuples()))


async def test_the_example_file_fills_the_database(storage):
    summary = await PeopleDirectory().apply_file(EXAMPLE)

    assert summary == (
        f"applied {EXAMPLE}: teams 2 created, 0 updated; users 4 created, 0 updated;"
        " team memberships 5 added, 0 removed; channel tiers changed for 1 user;"
        " escalation levels changed for 2 teams; routing changed; schedules 1 created, 0 updated"
    )
    teams = await database.run(lambda: list(Team.select().order_by(Team.name).tuples()))
    assert [row[1:4] for row in teams] == [
        ("payments", "Payments", "C0PAYMENTS1"), ("platform", "Platform Infrastructure", None),
    ]
    alice = await User.aget(User.handle == "alice")
    assert (alice.name, alice.email, alice.phone, alice.time_zone, alice.is_active) == (
        "Alice Example", "alice@example.com", "+15555550101", "Europe/Berlin", True,
    )
    dave = await User.aget(User.handle == "dave")
    assert (dave.phone, dave.time_zone) == (None, "UTC")
    assert await memberships() == {
        ("alice", "payments"), ("bob", "payments"), ("carol", "payments"), ("carol", "platform"),
        ("dave", "platform"),
    }
    users, team_ids = await ids(User, User.handle), await ids(Team, Team.name)
    assert await database.run(escalation_levels_for, team_ids["payments"]) == [
        (1, 5, sorted([users["alice"], users["bob"]])), (2, 15, [users["carol"]]),
    ]
    assert await database.run(escalation_levels_for, team_ids["platform"]) == [
        (1, 10, [users["dave"]]), (2, 20, [users["carol"]]),
    ]
    assert await database.run(channel_tiers_for, users["carol"], DEFAULT_CHANNEL_ESCALATION) == ChannelEscalationConfig(
        primary=(Channel.SMS, Channel.SLACK), secondary=(Channel.VOICE,), fallback=(Channel.EMAIL,)
    )
    assert await database.run(channel_tiers_for, users["alice"], DEFAULT_CHANNEL_ESCALATION) == DEFAULT_CHANNEL_ESCALATION


async def test_applying_the_same_file_again_changes_nothing(storage):
    await PeopleDirectory().apply_file(EXAMPLE)
    before = await snapshot()

    summary = await PeopleDirectory().apply_file(EXAMPLE)

    assert summary == (
        f"applied {EXAMPLE}: nothing changed, the database already matches it (2 teams, 4 users)"
    )
    assert await snapshot() == before


async def test_changing_one_phone_changes_only_that_row(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    before = await snapshot()
    path = edited(tmp_path, ('"+15555550102"', '"+15555550199"'))

    summary = await PeopleDirectory().apply_file(path)

    assert summary == (
        f"applied {path}: teams 0 created, 0 updated; users 0 created, 1 updated; no other changes"
    )
    after = await snapshot()
    bob_before, bob_after = pop_user(before, "bob"), pop_user(after, "bob")
    assert after == before
    assert bob_after["updated_at"] > bob_before["updated_at"]
    assert bob_after == {**bob_before, "phone": "+15555550199", "updated_at": bob_after["updated_at"]}


async def test_naming_the_team_channels_workspace_updates_the_team(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    path = edited(tmp_path, ('# slack_workspace = "T0EXAMPLE1"', 'slack_workspace = "T0EXAMPLE1"'))

    summary = await PeopleDirectory().apply_file(path)

    assert summary.startswith(f"applied {path}: teams 0 created, 1 updated;")
    payments = await Team.aget(Team.name == "payments")
    assert (payments.slack_channel, payments.slack_workspace) == ("C0PAYMENTS1", "T0EXAMPLE1")


async def test_a_bad_second_user_writes_nothing(storage, tmp_path):
    path = edited(tmp_path, ('"+15555550102"', '"555-0102"'))

    with pytest.raises(DirectoryError, match=r"users\[2\] \(bob\): phone: expected E\.164"):
        await PeopleDirectory().apply_file(path)

    assert all(rows == [] for rows in (await snapshot()).values())


async def test_an_unknown_team_found_at_apply_time_writes_nothing(storage, tmp_path):
    path = edited(tmp_path, ('teams = ["payments"]\n\n# Carol', 'teams = ["payments", "billing"]\n\n# Carol'))

    with pytest.raises(DirectoryError) as raised:
        await PeopleDirectory().apply_file(path)

    assert str(raised.value) == (
        f'{path}: users[2] (bob): teams: unknown team "billing": not in this file or the database'
    )
    assert all(rows == [] for rows in (await snapshot()).values())


async def test_an_unknown_level_user_is_named_by_team_and_level(storage, tmp_path):
    path = edited(tmp_path, ('users = ["carol"]\n\n[[teams]]', 'users = ["carol", "zed"]\n\n[[teams]]'))

    with pytest.raises(DirectoryError) as raised:
        await PeopleDirectory().apply_file(path)

    assert str(raised.value) == (
        f"{path}: teams[1] (payments): escalation_levels[2]: users:"
        ' unknown user "zed": not in this file or the database'
    )


async def test_a_failure_half_way_rolls_everything_back(storage, tmp_path, monkeypatch):
    await PeopleDirectory().apply_file(EXAMPLE)
    before = await snapshot()
    path = edited(
        tmp_path, ('"+15555550102"', '"+15555550199"'), ('teams = ["platform"]', 'teams = ["payments"]')
    )

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(directory_sync, "_sync_levels", fail)
    with pytest.raises(RuntimeError):
        await PeopleDirectory().apply_file(path)

    assert await snapshot() == before


async def test_removing_a_user_from_a_team_removes_the_membership(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    path = edited(tmp_path, ('teams = ["payments", "platform"]', 'teams = ["payments"]'))

    summary = await PeopleDirectory().apply_file(path)

    assert summary.endswith("users 0 created, 0 updated; team memberships 0 added, 1 removed")
    assert ("carol", "platform") not in await memberships()
    assert ("carol", "payments") in await memberships()


async def test_leaving_channels_out_brings_back_the_default_tiers(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    carol_channels = '[users.channels]\nprimary = ["sms", "slack"]\nsecondary = ["voice"]\nfallback = ["email"]\n'
    path = edited(tmp_path, (carol_channels, ""))

    summary = await PeopleDirectory().apply_file(path)

    assert summary.endswith("; channel tiers changed for 1 user")
    carol = await User.aget(User.handle == "carol")
    assert await database.count(ChannelPreference.select().where(ChannelPreference.user == carol.id)) == 0
    assert await database.run(channel_tiers_for, carol.id, DEFAULT_CHANNEL_ESCALATION) == DEFAULT_CHANNEL_ESCALATION


async def test_moving_a_channel_between_tiers_rewrites_only_that_row(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    before = {row["channel"]: row for row in (await snapshot())["ChannelPreference"]}
    path = edited(tmp_path, ('secondary = ["voice"]\nfallback = ["email"]', 'secondary = ["voice", "email"]'))

    await PeopleDirectory().apply_file(path)

    after = {row["channel"]: row for row in (await snapshot())["ChannelPreference"]}
    assert after["EMAIL"] == {**before["EMAIL"], "tier": "secondary"}
    assert {channel: row for channel, row in after.items() if channel != "EMAIL"} == {
        channel: row for channel, row in before.items() if channel != "EMAIL"
    }


async def test_escalation_levels_become_the_files(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    path = edited(
        tmp_path,
        ('delay_minutes = 5\nusers = ["alice", "bob"]', 'delay_minutes = 3\nusers = ["bob"]'),
        ('[[teams.escalation_levels]]\ndelay_minutes = 15\nusers = ["carol"]\n', ""),
    )

    summary = await PeopleDirectory().apply_file(path)

    assert summary.endswith("; escalation levels changed for 1 team")
    users, teams = await ids(User, User.handle), await ids(Team, Team.name)
    assert await database.run(escalation_levels_for, teams["payments"]) == [(1, 3, [users["bob"]])]
    targets = EscalationTarget.select().join(EscalationLevel).where(EscalationLevel.team == teams["payments"])
    assert await database.count(targets) == 1


async def test_teams_and_users_not_in_the_file_are_left_alone(storage, tmp_path):
    billing = await Team.acreate(name="billing", display_name="Billing")
    erin = await User.acreate(handle="erin", name="Erin Example", email="erin@example.com")
    await TeamMember.acreate(team=billing, user=erin)
    await ChannelPreference.acreate(user=erin, channel="SMS", tier="primary")
    before = await snapshot()
    path = edited(
        tmp_path,
        ('teams = ["platform"]', 'teams = ["platform", "billing"]'),
        ('delay_minutes = 10\nusers = ["dave"]', 'delay_minutes = 10\nusers = ["dave", "erin"]'),
    )

    await PeopleDirectory().apply_file(path)

    after = await snapshot()
    for model in ("Team", "User", "ChannelPreference"):
        assert all(row in after[model] for row in before[model]), model
    assert {("dave", "billing"), ("erin", "billing")} <= await memberships()
    platform = await Team.aget(Team.name == "platform")
    assert erin.id in (await database.run(escalation_levels_for, platform.id))[0][2]


async def test_a_deactivated_user_is_reactivated(storage):
    await PeopleDirectory().apply_file(EXAMPLE)
    await User.update(is_active=False).where(User.handle == "alice").aexecute()

    summary = await PeopleDirectory().apply_file(EXAMPLE)

    assert "users 0 created, 1 updated" in summary
    assert (await User.aget(User.handle == "alice")).is_active


async def test_an_email_held_by_an_unlisted_user_is_refused(storage):
    await User.acreate(handle="robert", name="Robert", email="Bob@example.com")

    with pytest.raises(DirectoryError) as raised:
        await PeopleDirectory().apply_file(EXAMPLE)

    assert str(raised.value) == (
        f'{EXAMPLE}: users[2] (bob): email:'
        ' "bob@example.com" belongs to user "robert", who is not in this file'
    )
    assert all(rows == [] for model, rows in (await snapshot()).items() if model != "User")


async def test_two_listed_users_may_swap_emails(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    path = edited(
        tmp_path,
        ('email = "alice@example.com"', 'email = "bob@example.com"'),
        ('email = "bob@example.com"\nphone', 'email = "alice@example.com"\nphone'),
    )

    summary = await PeopleDirectory().apply_file(path)

    assert "users 0 created, 2 updated" in summary
    assert (await User.aget(User.handle == "alice")).email == "bob@example.com"
    assert (await User.aget(User.handle == "bob")).email == "alice@example.com"


async def test_a_file_without_users_or_teams_changes_nothing(storage, tmp_path):
    path = tmp_path / "people.toml"
    path.write_text("# nobody yet\n")

    assert await PeopleDirectory().apply_file(path) == (
        f"applied {path}: nothing changed, the database already matches it (0 teams, 0 users)"
    )


async def routing() -> tuple[list[tuple], list[str]]:
    """The stored rules (position, match, team name, priority, service) and the default teams."""
    rules = RoutingRuleRow.select(
        RoutingRuleRow.position, RoutingRuleRow.match, Team.name, RoutingRuleRow.priority, RoutingRuleRow.service
    ).join(Team).order_by(RoutingRuleRow.position)
    defaults = Team.select(Team.name).where(Team.default_route)
    return await database.run(lambda: (list(rules.tuples()), [n for (n,) in defaults.tuples()]))


async def test_the_example_routing_is_stored(storage):
    await PeopleDirectory().apply_file(EXAMPLE)
    assert await routing() == (
        [(1, {"namespace": "pay-*", "severity": "critical"}, "payments", "CRITICAL", None)], ["platform"]
    )


async def test_routing_becomes_the_files_and_a_file_without_routing_keeps_it(storage, tmp_path):
    await PeopleDirectory().apply_file(EXAMPLE)
    path = edited(
        tmp_path, ('default_team = "platform"', 'default_team = "payments"'),
        ('priority = "critical"             #', 'service = "api"\n\n[[routing.rules]]\nmatch = { job = "node*" }\n'
                                             'team = "platform"\n#'),
    )
    summary = await PeopleDirectory().apply_file(path)
    assert summary.endswith("; routing changed")
    assert await routing() == (
        [(1, {"namespace": "pay-*", "severity": "critical"}, "payments", None, "api"),
         (2, {"job": "node*"}, "platform", None, None)],
        ["payments"],
    )
    assert "nothing changed" in await PeopleDirectory().apply_file(path)
    without = tmp_path / "teams-only.toml"
    without.write_text(EXAMPLE.read_text().split("\n[routing]")[0])
    assert "nothing changed" in await PeopleDirectory().apply_file(without)
    assert (await routing())[1] == ["payments"]
    cleared = tmp_path / "cleared.toml"
    cleared.write_text(EXAMPLE.read_text().split("\n[routing]")[0] + "\n[routing]\n")
    assert (await PeopleDirectory().apply_file(cleared)).endswith("; routing changed")
    assert await routing() == ([], [])


@pytest.mark.parametrize(
    "old, new, entry",
    [
        ('default_team = "platform"', 'default_team = "sre"', "routing: default_team"),
        ('team = "payments"\npriority', 'team = "billing"\npriority', "routing.rules[1]: team"),
    ],
)
async def test_routing_naming_an_unknown_team_writes_nothing(storage, tmp_path, old, new, entry):
    path = edited(tmp_path, (old, new))
    with pytest.raises(DirectoryError) as raised:
        await PeopleDirectory().apply_file(path)
    team = new.split('"')[1]
    assert str(raised.value) == f'{path}: {entry}: unknown team "{team}": not in this file or the database'
    assert all(rows == [] for rows in (await snapshot()).values())


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    for name in ("ACKBOT_ENCRYPTION_KEYS", "ACKBOT_LOG_LEVEL", "ACKBOT_DATABASE_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


def test_the_cli_applies_a_people_file(cli_env, capsys):
    assert app.main(["directory", "apply", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == (
        f"applied {EXAMPLE}: teams 2 created, 0 updated; users 4 created, 0 updated;"
        " team memberships 5 added, 0 removed; channel tiers changed for 1 user;"
        " escalation levels changed for 2 teams; routing changed; schedules 1 created, 0 updated\n"
    )
    assert app.main(["directory", "apply", str(EXAMPLE)]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_the_cli_reports_a_bad_file_without_a_traceback(cli_env, capsys, tmp_path):
    path = edited(tmp_path, ('"+15555550102"', '"555-0102"'))

    assert app.main(["directory", "apply", str(path)]) == 1

    captured = capsys.readouterr()
    message = f'{path}: users[2] (bob): phone: expected E.164, like +14155550123, got "555-0102"'
    assert f"ackbot: error: {message}\n" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
