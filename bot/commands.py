"""The one command grammar every surface shares: the Slack slash command (`/incident ack 42`),
messages to the Teams bot, SMS replies (`ACK 42`, a bare `ACK` for the latest page) and the CLI.

Pure: text in, a Command out. Never raises; what it cannot read becomes HELP with the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
STATUS = "status"
LIST = "list"
TEST = "test"
LINK = "link"
PUSH = "push"
WEB = "web"
ONCALL = "oncall"
TAKE = "take"
CALENDAR = "calendar"
HELP = "help"

_VERBS = {
    "ack": ACKNOWLEDGE, "acknowledge": ACKNOWLEDGE, "a": ACKNOWLEDGE,
    "res": RESOLVE, "resolve": RESOLVE, "r": RESOLVE,
    "status": STATUS, "s": STATUS, "st": STATUS,
    "list": LIST, "ls": LIST,
    "test": TEST, "link": LINK, "push": PUSH, "web": WEB,
    "oncall": ONCALL, "on-call": ONCALL, "who": ONCALL, "take": TAKE, "calendar": CALENDAR,
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
  web          get a one-time link that signs you in to Ackbot's web view
  oncall       who is on call now and until when (oncall payments: one team or schedule)
  take         go on call now until the current shift ends (take 2h: for two hours;
               take payments-primary: that schedule, when your teams have several)
  calendar     a private calendar feed of your shifts (Slack; a new one stops the old)
  help         this text"""


@dataclass(frozen=True)
class Command:
    """``verb`` is one of the constants above; ``number`` the incident (None: the latest page,
    for ack/resolve); ``problem`` why the text was not understood (verb is then HELP)."""

    verb: str
    number: int | None = None
    problem: str | None = None
    name: str | None = None
    duration: timedelta | None = None


def parse_command(text: str) -> Command:
    words = text.replace("\u00a0", " ").split()
    if not words:
        return Command(HELP)
    verb = _VERBS.get(words[0].lower())
    if verb is None:
        return Command(HELP, problem=f"I don't know {_quote(words[0])}.")
    arguments = words[1:]
    if verb in (ONCALL, TAKE):
        return _schedule_command(verb, words[0].lower(), arguments)
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


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_DURATION = re.compile(r"([1-9][0-9]{0,3})(m|min|h|d)")
_DURATION_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}
MAX_TAKE = timedelta(days=14)


def _schedule_command(verb: str, said: str, arguments: list[str]) -> Command:
    """``oncall [NAME]``; ``take [NAME] [DURATION]`` in either order."""
    name, duration = None, None
    for argument in arguments:
        length = parse_duration(argument) if verb == TAKE else None
        if verb == TAKE and length is None and _DURATION.fullmatch(argument.lower()):
            return Command(HELP, problem=f"{said} lasts at most {MAX_TAKE.days} days.")
        if length is not None and duration is None:
            duration = length
        elif _NAME.fullmatch(argument.lower()) and name is None and length is None:
            name = argument.lower()
        elif verb == TAKE:
            return Command(HELP, problem=f"{said} takes a schedule name and a duration like 2h, each at most once.")
        else:
            return Command(HELP, problem=f"{said} takes one team or schedule name.")
    return Command(verb, name=name, duration=duration)


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``2h``, ``1d`` → a duration of at most MAX_TAKE; None when ``text`` is not one."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        return None
    length = timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})
    return length if length <= MAX_TAKE else None


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


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time ("2026-12-07T09:00", "2026-12-07 09:00", with or without an offset or
    "Z"); naive when no offset is given. None when ``text`` is not one, or outside 2000-2100."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if 2000 <= moment.year <= 2100 else None
