"""The shared command grammar: what each surface's text turns into."""
import pytest

from bot.commands import (
    ACKNOWLEDGE,
    HELP,
    LIST,
    MAX_INCIDENT_NUMBER,
    RESOLVE,
    STATUS,
    TEST,
    Command,
    help_text,
    parse_command,
    parse_number,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ack 42", Command(ACKNOWLEDGE, 42)),
        ("ACK #42", Command(ACKNOWLEDGE, 42)),
        ("  Acknowledge   7 ", Command(ACKNOWLEDGE, 7)),
        ("ACK", Command(ACKNOWLEDGE)),
        ("RES 42", Command(RESOLVE, 42)),
        ("resolve", Command(RESOLVE)),
        ("status 42", Command(STATUS, 42)),
        ("list", Command(LIST)),
        ("TEST", Command(TEST)),
        ("", Command(HELP)),
        ("help", Command(HELP)),
    ],
)
def test_commands_parse(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("status", "status needs an incident number, like status 42."),
        ("ack forty", '"forty" is not an incident number.'),
        ("ack 1 2", "ack takes one incident number."),
        ("list all", "list takes nothing after it."),
        ("reboot prod", 'I don\'t know "reboot".'),
        ("ack 1234567890123", '"1234567890123" is not an incident number.'),
    ],
)
def test_unreadable_text_becomes_help_with_the_reason(text, problem):
    command = parse_command(text)
    assert command == Command(HELP, problem=problem)
    assert help_text(command).startswith(problem) and "status 42" in help_text(command)


def test_oncall_and_take_read_a_name_and_a_duration_in_either_order():
    from datetime import timedelta

    from bot.commands import ONCALL, TAKE, Command, parse_command

    assert parse_command("oncall") == Command(ONCALL)
    assert parse_command("ONCALL Payments") == Command(ONCALL, name="payments")
    assert parse_command("take") == Command(TAKE)
    assert parse_command("take 2h payments-primary") == Command(TAKE, name="payments-primary", duration=timedelta(hours=2))
    assert parse_command("TAKE 90m") == Command(TAKE, duration=timedelta(minutes=90))
    assert parse_command("take 2h 3h").problem == "take takes a schedule name and a duration like 2h, each at most once."
    assert parse_command("take 15d").problem == "take lasts at most 14 days."
    assert parse_command("oncall a b").problem == "oncall takes one team or schedule name."


@pytest.mark.parametrize(
    "value, number",
    [("42", 42), ("#42", 42), (42, 42), ("15", 15), (MAX_INCIDENT_NUMBER, MAX_INCIDENT_NUMBER),
     (str(MAX_INCIDENT_NUMBER), MAX_INCIDENT_NUMBER), (MAX_INCIDENT_NUMBER + 1, None),
     (str(MAX_INCIDENT_NUMBER + 1), None), (10**30, None), ("9" * 5000, None), (0, None), ("0", None),
     (-1, None), ("-1", None), (True, None), (1.0, None), ("١٢", None), ("1e3", None), (None, None), ([1], None)],
)
def test_incident_numbers_are_whole_numbers_from_1_to_the_largest_id(value, number):
    assert parse_number(value) == number
