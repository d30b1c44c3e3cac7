"""The one command grammar every surface shares: the Slack slash command (`/incident ack 42`),
messages to the Teams bot, SMS replies (`ACK 42`, a bare `ACK` for the latest page) and the CLI.

Pure: text in, a Command out. Never raises; what it cannot read becomes HELP with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass

ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
STATUS = "status"
LIST = "list"
TEST = "test"
LINK = "link"
PUSH = "push"
HELP = "help"

_VERBS = {
    "ack": ACKNOWLEDGE, "acknowledge": ACKNOWLEDGE, "a": ACKNOWLEDGE,
    "res": RESOLVE, "resolve": RESOLVE, "r": RESOLVE,
    "status": STATUS, "s": STATUS, "st": STATUS,
    "list": LIST, "ls": LIST,
    "test": TEST, "link": LINK, "push": PUSH,
    "help": HELP, "?": HELP,
}
_TAKES_NUMBER = {ACKNOWLEDGE, RESOLVE, STATUS}
_NEEDS_NUMBER = {STATUS}

HELP_TEXT = """Commands:
  ack 42       acknowledge incident #42 (a bare "ack" acknowledges the latest page sent to you)
  resolve 42   resolve incident #42 (a bare "resolve" resolves the latest page sent to you)
  status 42    who was paged for #42 on which channel, and what happened to each page
  list         open incidents
  test         send a test page to all your channels
  link         connect this account to your Ackbot user
  push         get a link to turn on push notifications on this device
  help         this text"""


@dataclass(frozen=True)
class Command:
    """``verb`` is one of the constants above; ``number`` the incident (None: the latest page,
    for ack/resolve); ``problem`` why the text was not understood (verb is then HELP)."""

    verb: str
    number: int | None = None
    problem: str | None = None


def parse_command(text: str) -> Command:
    words = text.replace("\u00a0", " ").split()
    if not words:
        return Command(HELP)
    verb = _VERBS.get(words[0].lower())
    if verb is None:
        return Command(HELP, problem=f"I don't know {_quote(words[0])}.")
    arguments = words[1:]
    if verb not in _TAKES_NUMBER:
        if arguments:
            return Command(HELP, problem=f"{words[0].lower()} takes nothing after it.")
        return Command(verb)
    if not arguments:
        if verb in _NEEDS_NUMBER:
            return Command(HELP, problem=f"{words[0].lower()} needs an incident number, like {words[0].lower()} 42.")
        return Command(verb)
    if len(arguments) > 1:
        return Command(HELP, problem=f"{words[0].lower()} takes one incident number.")
    number = parse_number(arguments[0])
    if number is None:
        return Command(HELP, problem=f"{_quote(arguments[0])} is not an incident number.")
    return Command(verb, number)


# The largest incident number: ids are 32-bit integers on PostgreSQL.
MAX_INCIDENT_NUMBER = 2**31 - 1


def parse_number(value) -> int | None:
    """The incident number in ``value``: text like "42" or "#42" (ASCII digits), or an int (card
    data arrives as either); None when it is not one from 1 to MAX_INCIDENT_NUMBER."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        digits = value.lstrip("#")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_INCIDENT_NUMBER)):
            return None
        number = int(digits)
    else:
        return None
    return number if 1 <= number <= MAX_INCIDENT_NUMBER else None


def _quote(word: str) -> str:
    return f'"{word[:30]}"'


def help_text(command: Command) -> str:
    return f"{command.problem}\n\n{HELP_TEXT}" if command.problem else HELP_TEXT
