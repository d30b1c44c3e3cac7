"""Parsing and validating the people file: every problem is named by file, entry and field."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from incidents.directory import DirectoryError, LevelEntry, parse_people_file
from incidents.directory_file import RoutingEntry, RuleEntry
from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, Priority

EXAMPLE = Path(__file__).resolve().parents[2] / "people.example.toml"

TEAM = """
[[teams]]
name = "payments"

[[teams.escalation_levels]]
delay_minutes = 5
users = ["alice"]
"""

ALICE = """
[[users]]
handle = "alice"
name = "Alice Example"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(DirectoryError) as raised:
        parse_people_file(path)
    return str(raised.value)


def test_the_example_file_parses():
    directory = parse_people_file(EXAMPLE)
    assert [team.name for team in directory.teams] == ["payments", "platform"]
    payments = directory.teams[0]
    assert (payments.slack_channel, payments.slack_workspace) == ("C0PAYMENTS1", None)
    assert payments.escalation_levels == (
        LevelEntry(1, 5, ("alice", "bob")), LevelEntry(2, 15, ("carol",)),
    )
    assert directory.teams[1].slack_channel is None
    assert [user.handle for user in directory.users] == ["alice", "bob", "carol", "dave"]
    assert directory.users[2].channels == ChannelEscalationConfig(
        primary=(Channel.SMS, Channel.SLACK), secondary=(Channel.VOICE,), fallback=(Channel.EMAIL,)
    )
    assert directory.users[0].channels is None
    assert directory.routing == RoutingEntry(
        default_team="platform",
        rules=(RuleEntry(1, {"namespace": "pay-*", "severity": "critical"}, "payments", Priority.CRITICAL, None),),
    )


def test_a_file_without_routing_leaves_it_unset_and_rule_options_are_optional(tmp_path):
    assert parse_people_file(write(tmp_path, TEAM)).routing is None
    text = '[routing]\n[[routing.rules]]\nmatch = { job = "es-*" }\nteam = "search"\nservice = "es"\npriority = "Low"\n'
    assert parse_people_file(write(tmp_path, text)).routing == RoutingEntry(
        None, (RuleEntry(1, {"job": "es-*"}, "search", Priority.LOW, "es"),)
    )


def test_optional_fields_take_their_defaults(tmp_path):
    directory = parse_people_file(write(tmp_path, TEAM + ALICE))
    team, user = directory.teams[0], directory.users[0]
    assert (team.display_name, team.slack_channel, team.slack_workspace) == ("payments", None, None)
    assert (user.email, user.phone, user.time_zone) == (None, None, "UTC")
    assert (user.teams, user.channels) == ((), None)


def test_a_team_may_name_its_chat_channels(tmp_path):
    channels = 'slack_channel = "C0PAYMENTS1"\nslack_workspace = "T0ACME123"\nteams_channel = "19:a1-B2_c3@thread.tacv2"\n'
    path = write(tmp_path, TEAM.replace('name = "payments"\n', f'name = "payments"\n{channels}') + ALICE)
    team = parse_people_file(path).teams[0]
    assert (team.slack_channel, team.slack_workspace, team.teams_channel) == (
        "C0PAYMENTS1", "T0ACME123", "19:a1-B2_c3@thread.tacv2",
    )


def test_channel_names_are_case_insensitive_and_tiers_may_be_left_out(tmp_path):
    path = write(tmp_path, ALICE + '[users.channels]\nprimary = ["Email", "SLACK"]\nfallback = ["voice"]\n')
    assert parse_people_file(path).users[0].channels == ChannelEscalationConfig(
        primary=(Channel.EMAIL, Channel.SLACK), secondary=(), fallback=(Channel.VOICE,)
    )


def test_an_empty_file_is_an_empty_directory(tmp_path):
    directory = parse_people_file(write(tmp_path, "# nobody yet\n"))
    assert (directory.teams, directory.users) == ((), ())


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.toml"
    assert error_of(path) == f"{path}: no such file"


def test_a_folder_is_not_a_people_file(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: is a folder, expected a TOML file"


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    path = write(tmp_path, ALICE)

    def refused(self):  # root reads any file, and CI runs as root: the refusal is simulated
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_bytes", refused)
    assert error_of(path) == f"{path}: cannot read: Permission denied"


def test_a_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '[[users]]\nhandle = "alice"\nname = Alice\n')
    assert error_of(path).startswith(f"{path}: line 3, column 8: invalid TOML: ")


def test_text_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "people.toml"
    path.write_bytes(b'[[users]]\nname = "Ren\xe9e"\n')
    assert error_of(path) == f"{path}: line 2: not UTF-8 text"


SLUG_RULE = "lowercase letters, digits, - and _, starting with a letter or digit"
DELAY_RULE = "expected a whole number of minutes from 0 to 10080"
ZONE_RULE = "expected an IANA time zone name like Europe/Berlin"

BAD_FILES = {
    "unknown top-level key": (
        '[[user]]\nhandle = "alice"\n',
        "user: unknown key; expected teams, users, schedules or routing",
    ),
    "teams as one table": (
        '[teams]\nname = "payments"\n',
        "teams: expected tables, each written [[teams]]",
    ),
    "team name not a slug": (
        '[[teams]]\nname = "Payments"\n',
        f'teams[1] (Payments): name: expected a team name ({SLUG_RULE}), got "Payments"',
    ),
    "team name missing": (
        '[[teams]]\ndisplay_name = "Payments"\n',
        "teams[1]: name: missing; it is required",
    ),
    "unknown team key": (
        '[[teams]]\nname = "payments"\nslack = "C0123456"\n',
        "teams[1] (payments): slack: unknown key;"
        " expected name, display_name, slack_channel, slack_workspace, teams_channel or escalation_levels",
    ),
    "display name not text": (
        '[[teams]]\nname = "payments"\ndisplay_name = 7\n',
        "teams[1] (payments): display_name: expected non-empty text in quotes, got 7",
    ),
    "slack channel name instead of id": (
        '[[teams]]\nname = "payments"\nslack_channel = "#payments"\n',
        'teams[1] (payments): slack_channel: expected a Slack channel ID like C0123456, got "#payments"',
    ),
    "workspace name instead of id": (
        '[[teams]]\nname = "payments"\nslack_channel = "C0PAYMENTS1"\nslack_workspace = "acme"\n',
        'teams[1] (payments): slack_workspace: expected a Slack workspace ID like T0123456, got "acme"',
    ),
    "teams channel name instead of id": (
        '[[teams]]\nname = "payments"\nteams_channel = "General"\n',
        'teams[1] (payments): teams_channel: expected a Teams channel ID like 19:…@thread.tacv2, got "General"',
    ),
    "workspace without a channel": (
        '[[teams]]\nname = "payments"\nslack_workspace = "T0ACME123"\n',
        "teams[1] (payments): slack_workspace: names the workspace of slack_channel, which is missing",
    ),
    "levels as one table": (
        '[[teams]]\nname = "payments"\n[teams.escalation_levels]\ndelay_minutes = 5\n',
        "teams[1] (payments): escalation_levels: expected tables, each written [[teams.escalation_levels]]",
    ),
    "delay missing": (
        TEAM.replace("delay_minutes = 5\n", ""),
        "teams[1] (payments): escalation_levels[1]: delay_minutes: missing; it is required",
    ),
    "delay too long": (
        TEAM.replace("delay_minutes = 5", "delay_minutes = 10081"),
        f"teams[1] (payments): escalation_levels[1]: delay_minutes: {DELAY_RULE}, got 10081",
    ),
    "delay negative": (
        TEAM.replace("delay_minutes = 5", "delay_minutes = -1"),
        f"teams[1] (payments): escalation_levels[1]: delay_minutes: {DELAY_RULE}, got -1",
    ),
    "delay a boolean": (
        TEAM.replace("delay_minutes = 5", "delay_minutes = true"),
        f"teams[1] (payments): escalation_levels[1]: delay_minutes: {DELAY_RULE}, got true",
    ),
    "delay a fraction": (
        TEAM.replace("delay_minutes = 5", "delay_minutes = 2.5"),
        f"teams[1] (payments): escalation_levels[1]: delay_minutes: {DELAY_RULE}, got 2.5",
    ),
    "level without users": (
        TEAM.replace('users = ["alice"]', "users = []"),
        "teams[1] (payments): escalation_levels[1]: users: expected at least one user handle (or a schedule in schedules)",
    ),
    "level user twice": (
        TEAM.replace('users = ["alice"]', 'users = ["alice", "alice"]'),
        'teams[1] (payments): escalation_levels[1]: users: "alice" is listed twice',
    ),
    "unknown level key": (
        TEAM.replace("delay_minutes = 5", "delay_minutes = 5\nwait = 3"),
        "teams[1] (payments): escalation_levels[1]: wait: unknown key; expected delay_minutes, users or schedules",
    ),
    "handle missing": (
        '[[users]]\nname = "Alice"\n',
        "users[1]: handle: missing; it is required",
    ),
    "name missing": (
        '[[users]]\nhandle = "alice"\n',
        "users[1] (alice): name: missing; it is required",
    ),
    "name blank": (
        ALICE.replace('"Alice Example"', '"  "'),
        'users[1] (alice): name: expected non-empty text in quotes, got "  "',
    ),
    "name too long": (
        ALICE.replace("Alice Example", "A" * 256),
        "users[1] (alice): name: too long: at most 255 characters",
    ),
    "unknown user key": (
        ALICE + 'phon = "+15555550101"\n',
        "users[1] (alice): phon: unknown key;"
        " expected handle, name, email, phone, time_zone, teams, channels or admin",
    ),
    "email shape": (
        ALICE + 'email = "alice.example.com"\n',
        'users[1] (alice): email: expected an email address like alice@example.com, got "alice.example.com"',
    ),
    "phone not e164": (
        ALICE + 'phone = "0155 5555 0101"\n',
        'users[1] (alice): phone: expected E.164, like +14155550123, got "0155 5555 0101"',
    ),
    "time zone unknown": (
        ALICE + 'time_zone = "Mars/Olympus"\n',
        f'users[1] (alice): time_zone: unknown time zone "Mars/Olympus"; {ZONE_RULE}',
    ),
    "time zone a path": (
        ALICE + 'time_zone = "../etc/passwd"\n',
        f'users[1] (alice): time_zone: unknown time zone "../etc/passwd"; {ZONE_RULE}',
    ),
    "teams not a list": (
        ALICE + 'teams = "payments"\n',
        'users[1] (alice): teams: expected a list of text in quotes, like ["a", "b"], got "payments"',
    ),
    "team reference not a slug": (
        ALICE + 'teams = ["Payments Team"]\n',
        f'users[1] (alice): teams: "Payments Team" is not a team name ({SLUG_RULE})',
    ),
    "channels not a table": (
        ALICE + 'channels = ["sms"]\n',
        "users[1] (alice): channels: expected a table of tiers, written [users.channels]",
    ),
    "unknown tier": (
        ALICE + '[users.channels]\nfirst = ["sms"]\n',
        "users[1] (alice): channels.first: unknown key; expected primary, secondary or fallback",
    ),
    "unknown channel": (
        ALICE + '[users.channels]\nprimary = ["fax"]\n',
        'users[1] (alice): channels.primary: unknown channel "fax";'
        " expected email, sms, push, slack, teams or voice",
    ),
    "channel in two tiers": (
        ALICE + '[users.channels]\nprimary = ["sms"]\nfallback = ["SMS"]\n',
        'users[1] (alice): channels.fallback: "SMS" is already in channels.primary',
    ),
    "channel twice in a tier": (
        ALICE + '[users.channels]\nprimary = ["sms", "email", "sms"]\n',
        'users[1] (alice): channels.primary: "sms" is listed twice',
    ),
    "no channels at all": (
        ALICE + "[users.channels]\nprimary = []\n",
        "users[1] (alice): channels: no channel in any tier; leave channels out to use the default tiers",
    ),
    "second user bad": (
        ALICE + '[[users]]\nhandle = "bob"\nname = "Bob"\nphone = "12345"\n',
        'users[2] (bob): phone: expected E.164, like +14155550123, got "12345"',
    ),
    "duplicate team": (
        TEAM + '[[teams]]\nname = "payments"\n',
        'teams[2] (payments): name: "payments" is also in teams[1] (payments)',
    ),
    "duplicate handle": (
        ALICE + ALICE,
        'users[2] (alice): handle: "alice" is also in users[1] (alice)',
    ),
    "duplicate email in another case": (
        ALICE + 'email = "alice@example.com"\n'
        '[[users]]\nhandle = "al"\nname = "Al"\nemail = "Alice@Example.com"\n',
        'users[2] (al): email: "alice@example.com" is also in users[1] (alice)',
    ),
    "routing as a list": (
        "routing = []\n",
        "routing: expected a table, written [routing]",
    ),
    "routing with an unknown key": (
        '[routing]\ndefault = "platform"\n',
        "routing: default: unknown key; expected default_team or rules",
    ),
    "default team not a slug": (
        '[routing]\ndefault_team = "Platform Team"\n',
        f'routing: default_team: expected a team name ({SLUG_RULE}), got "Platform Team"',
    ),
    "rule without match": (
        '[[routing.rules]]\nteam = "payments"\n',
        'routing.rules[1]: match: missing; it is required, like match = { namespace = "pay-*" }',
    ),
    "rule with an empty match": (
        '[[routing.rules]]\nmatch = {}\nteam = "payments"\n',
        "routing.rules[1]: match: expected at least one label; default_team places alerts no rule matches",
    ),
    "rule matching a number": (
        '[[routing.rules]]\nmatch = { severity = 1 }\nteam = "payments"\n',
        'routing.rules[1]: match.severity: expected a non-empty glob in quotes, like "pay-*", got 1',
    ),
    "rule matching a bad label name": (
        '[[routing.rules]]\nmatch = { "1st" = "x" }\nteam = "payments"\n',
        "routing.rules[1]: match.1st: not a label name (letters, digits and _, not starting with a digit)",
    ),
    "second rule without a team": (
        '[[routing.rules]]\nmatch = { a = "b" }\nteam = "payments"\n[[routing.rules]]\nmatch = { a = "c" }\n',
        "routing.rules[2]: team: missing; it is required",
    ),
    "rule with a bad priority": (
        '[[routing.rules]]\nmatch = { a = "b" }\nteam = "payments"\npriority = "urgent"\n',
        'routing.rules[1]: priority: expected critical, high, medium, low or info, got "urgent"',
    ),
    "rule with an unknown key": (
        '[[routing.rules]]\nmatch = { a = "b" }\nteam = "payments"\nescalate = true\n',
        "routing.rules[1]: escalate: unknown key; expected match, team, priority or service",
    ),
}


@pytest.mark.parametrize("text, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_each_problem_names_the_file_entry_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}: {expected}"
