"""The people file (``people.toml``): parsed and validated into frozen dataclasses.

Pure: reading the file is the only I/O. Whether a team or user named in the file but not defined
in it exists is decided later, against the database, by ``incidents.directory_sync``.

Every ``DirectoryError`` names the file, the entry and the field, e.g.
``people.toml: users[2] (bob): phone: expected E.164, like +14155550123``. Positions count from 1,
as people count: ``users[2]`` is the second ``[[users]]`` table and ``escalation_levels[2]`` is
level 2.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidents.schedules.model import WEEKDAYS, WHOLE_DAY, ShiftLength, Window, parse_shift_length, parse_window
from incidents.schedules.times import to_instant
from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, Priority, Tier

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
E164 = re.compile(r"\+[1-9]\d{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
SLACK_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
SLACK_WORKSPACE_ID = re.compile(r"T[A-Z0-9]{6,}")
TEAMS_CHANNEL_ID = re.compile(r"19:[A-Za-z0-9_.-]+@thread\.(tacv2|skype)")
# PostgreSQL columns are varchar(255): SQLite would keep longer text, PostgreSQL refuses it.
MAX_TEXT = 255
MAX_DELAY_MINUTES = 7 * 24 * 60

LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOP_KEYS = ("teams", "users", "schedules", "routing")
ROUTING_KEYS = ("default_team", "rules")
RULE_KEYS = ("match", "team", "priority", "service")
TEAM_KEYS = ("name", "display_name", "slack_channel", "slack_workspace", "teams_channel", "escalation_levels")
LEVEL_KEYS = ("delay_minutes", "users", "schedules")
SCHEDULE_KEYS = ("name", "time_zone", "team", "ical_url", "rotations", "overrides")
FEED_URL = re.compile(r"(https?|webcal)://[^\s]+")
ROTATION_KEYS = ("users", "start", "shift", "days", "hours")
OVERRIDE_KEYS = ("user", "start", "end")
USER_KEYS = ("handle", "name", "email", "phone", "time_zone", "teams", "channels", "admin")
TIER_KEYS = tuple(tier.value for tier in Tier)


class DirectoryError(Exception):
    """The people file cannot be applied; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class LevelEntry:
    """One escalation level: who is paged, and how long to wait for an acknowledgement before
    paging the next level."""

    level: int
    delay_minutes: int
    users: tuple[str, ...]
    schedules: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamEntry:
    position: int
    name: str
    display_name: str
    slack_channel: str | None
    slack_workspace: str | None
    teams_channel: str | None
    escalation_levels: tuple[LevelEntry, ...]

    @property
    def label(self) -> str:
        return f"teams[{self.position}] ({self.name})"

    def level_label(self, level: LevelEntry) -> str:
        return f"{self.label}: escalation_levels[{level.level}]"


@dataclass(frozen=True)
class UserEntry:
    """A person. ``channels`` is None when the file gives none: the default tiers apply."""

    position: int
    handle: str
    name: str
    email: str | None
    phone: str | None
    time_zone: str
    teams: tuple[str, ...]
    channels: ChannelEscalationConfig | None
    admin: bool = False

    @property
    def label(self) -> str:
        return f"users[{self.position}] ({self.handle})"


@dataclass(frozen=True)
class RuleEntry:
    """One ``[[routing.rules]]`` table: every label of ``match`` must fit its glob."""

    position: int
    match: dict[str, str]
    team: str
    priority: Priority | None
    service: str | None

    @property
    def label(self) -> str:
        return f"routing.rules[{self.position}]"


@dataclass(frozen=True)
class RoutingEntry:
    """The ``[routing]`` table: where alerts go that no rule, key or named team places, and the
    rules, first match wins."""

    default_team: str | None
    rules: tuple[RuleEntry, ...]


@dataclass(frozen=True)
class RotationEntry:
    """A layer of a schedule; ``start`` is naive, in the schedule's zone."""

    position: int
    users: tuple[str, ...]
    start: datetime
    shift: ShiftLength
    days: frozenset[int]
    hours: Window


@dataclass(frozen=True)
class OverrideEntry:
    position: int
    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ScheduleEntry:
    position: int
    name: str
    time_zone: str
    team: str | None
    rotations: tuple[RotationEntry, ...]
    overrides: tuple[OverrideEntry, ...]
    ical_url: str | None = None

    @property
    def label(self) -> str:
        return f"schedules[{self.position}] ({self.name})"


@dataclass(frozen=True)
class Directory:
    """A whole people file; ``source`` is the path as given, for messages. ``routing`` is None
    when the file has no ``[routing]`` table (the stored routing is then left alone)."""

    source: str
    teams: tuple[TeamEntry, ...]
    users: tuple[UserEntry, ...]
    schedules: tuple[ScheduleEntry, ...] = ()
    routing: RoutingEntry | None = None

    def error(self, entry: str, field: str, message: str) -> DirectoryError:
        return DirectoryError(f"{self.source}: {entry}: {field}: {message}")


def parse_people_file(path: Path) -> Directory:
    """Read and validate the people file at ``path``; raises DirectoryError on any problem."""
    source = str(path)
    top = _Table(source, "", _load(path), TOP_KEYS)
    directory = Directory(
        source,
        teams=tuple(_team(top, position, data) for position, data in top.tables("teams", "teams")),
        users=tuple(_user(top, position, data) for position, data in top.tables("users", "users")),
        schedules=_schedules(top),
        routing=_routing(top),
    )
    _check_unique(directory)
    return directory


def _load(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DirectoryError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DirectoryError(f"{path}: is a folder, expected a TOML file") from None
    except OSError as error:
        raise DirectoryError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DirectoryError(f"{path}: line {line}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DirectoryError(f"{path}: {_toml_error(str(error))}") from None


def _toml_error(message: str) -> str:
    """tomllib's message with its position moved to the front, where the other errors name it."""
    at_line = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message)
    if at_line:
        reason, line, column = at_line.groups()
        return f"line {line}, column {column}: invalid TOML: {reason}"
    at_end = re.fullmatch(r"(.*) \(at end of document\)", message)
    if at_end:
        return f"end of file: invalid TOML: {at_end.group(1)}"
    return f"invalid TOML: {message}"


class _Table:
    """One TOML table being read; every error it raises names the file, the entry and the field.
    ``prefix`` qualifies field names of a nested table (``channels.``)."""

    def __init__(self, source: str, entry: str, data: dict, keys: tuple[str, ...], prefix: str = ""):
        self.source, self.entry, self.data, self.prefix = source, entry, data, prefix
        unknown = [key for key in data if key not in keys]
        if unknown:
            raise self.error(unknown[0], f"unknown key; expected {_one_of(keys)}")

    def error(self, field: str, message: str) -> DirectoryError:
        entry = f"{self.entry}: " if self.entry else ""
        return DirectoryError(f"{self.source}: {entry}{self.prefix}{field}: {message}")

    @overload
    def text(self, key: str, required: Literal[True] = True) -> str: ...
    @overload
    def text(self, key: str, required: bool) -> str | None: ...
    def text(self, key: str, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing; it is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected non-empty text in quotes, got {_show(value)}")
        if len(value.strip()) > MAX_TEXT:
            raise self.error(key, f"too long: at most {MAX_TEXT} characters")
        return value.strip()

    @overload
    def matching(self, key: str, pattern: re.Pattern, expected: str, required: Literal[True] = True) -> str: ...
    @overload
    def matching(self, key: str, pattern: re.Pattern, expected: str, required: bool) -> str | None: ...
    def matching(self, key: str, pattern: re.Pattern, expected: str, required: bool = True) -> str | None:
        value = self.text(key, required)
        if value is not None and not pattern.fullmatch(value):
            raise self.error(key, f"expected {expected}, got {_show(value)}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings; empty when the key is absent."""
        values = self.data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise self.error(key, f'expected a list of text in quotes, like ["a", "b"], got {_show(values)}')
        return tuple(values)

    def slugs(self, key: str, what: str) -> tuple[str, ...]:
        """A list of distinct slugs naming ``what`` (a team, a user)."""
        values = self.texts(key)
        for index, value in enumerate(values):
            if not SLUG.fullmatch(value):
                raise self.error(key, f"{_show(value)} is not a {what} ({_SLUG_RULE})")
            if value in values[:index]:
                raise self.error(key, f"{_show(value)} is listed twice")
        return values

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_show(value)}")
        return value

    def integer(self, key: str, low: int, high: int, unit: str) -> int:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, "missing; it is required")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            expected = f"a whole number of {unit} from {low} to {high}"
            raise self.error(key, f"expected {expected}, got {_show(value)}")
        return value

    def tables(self, key: str, written: str) -> list[tuple[int, dict]]:
        """(position from 1, table) for an array of tables written ``[[written]]``; [] when absent."""
        values = self.data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(value, dict) for value in values):
            raise self.error(key, f"expected tables, each written [[{written}]]")
        return list(enumerate(values, start=1))


_SLUG_RULE = "lowercase letters, digits, - and _, starting with a letter or digit"


def _entry(kind: str, position: int, data: dict, key: str) -> str:
    name = data.get(key)
    named = name.strip() if isinstance(name, str) else ""
    return f"{kind}[{position}] ({named})" if named else f"{kind}[{position}]"


def _team(top: _Table, position: int, data: dict) -> TeamEntry:
    team = _Table(top.source, _entry("teams", position, data, "name"), data, TEAM_KEYS)
    name = team.matching("name", SLUG, f"a team name ({_SLUG_RULE})")
    slack_channel = team.matching("slack_channel", SLACK_CHANNEL_ID, "a Slack channel ID like C0123456", required=False)
    slack_workspace = team.matching(
        "slack_workspace", SLACK_WORKSPACE_ID, "a Slack workspace ID like T0123456", required=False
    )
    if slack_workspace and not slack_channel:
        raise team.error("slack_workspace", "names the workspace of slack_channel, which is missing")
    return TeamEntry(
        position=position,
        name=name,
        display_name=team.text("display_name", required=False) or name,
        slack_channel=slack_channel,
        slack_workspace=slack_workspace,
        teams_channel=team.matching(
            "teams_channel", TEAMS_CHANNEL_ID, "a Teams channel ID like 19:…@thread.tacv2", required=False
        ),
        escalation_levels=tuple(
            _level(team, number, level)
            for number, level in team.tables("escalation_levels", "teams.escalation_levels")
        ),
    )


def _level(team: _Table, number: int, data: dict) -> LevelEntry:
    level = _Table(team.source, f"{team.entry}: escalation_levels[{number}]", data, LEVEL_KEYS)
    users = level.slugs("users", "user handle")
    schedules = level.slugs("schedules", "schedule name")
    if not users and not schedules:
        raise level.error("users", "expected at least one user handle (or a schedule in schedules)")
    return LevelEntry(number, level.integer("delay_minutes", 0, MAX_DELAY_MINUTES, "minutes"), users, schedules)


def _user(top: _Table, position: int, data: dict) -> UserEntry:
    user = _Table(top.source, _entry("users", position, data, "handle"), data, USER_KEYS)
    return UserEntry(
        position=position,
        handle=user.matching("handle", SLUG, f"a handle ({_SLUG_RULE})"),
        name=user.text("name"),
        email=user.matching("email", EMAIL, "an email address like alice@example.com", required=False),
        phone=user.matching("phone", E164, "E.164, like +14155550123", required=False),
        time_zone=_time_zone(user),
        teams=user.slugs("teams", "team name"),
        channels=_channels(user),
        admin=user.boolean("admin"),
    )


def _time_zone(table: _Table, required: bool = False) -> str:
    name = table.text("time_zone", required=required) or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        expected = "an IANA time zone name like Europe/Berlin"
        raise table.error("time_zone", f"unknown time zone {_show(name)}; expected {expected}") from None
    return name


def _channels(user: _Table) -> ChannelEscalationConfig | None:
    data = user.data.get("channels")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise user.error("channels", "expected a table of tiers, written [users.channels]")
    channels = _Table(user.source, user.entry, data, TIER_KEYS, prefix="channels.")
    seen: dict[Channel, Tier] = {}
    tiers = {tier.value: _tier(channels, tier, seen) for tier in Tier}
    if not seen:
        raise user.error("channels", "no channel in any tier; leave channels out to use the default tiers")
    return ChannelEscalationConfig(**tiers)


def _tier(channels: _Table, tier: Tier, seen: dict[Channel, Tier]) -> tuple[Channel, ...]:
    """The tier's channels; ``seen`` collects every channel of the earlier tiers."""
    result = []
    for name in channels.texts(tier.value):
        try:
            channel = Channel(name.upper())
        except ValueError:
            known = _one_of(tuple(channel.value.lower() for channel in Channel))
            raise channels.error(tier.value, f"unknown channel {_show(name)}; expected {known}") from None
        if channel in seen:
            where = "listed twice" if seen[channel] is tier else f"already in channels.{seen[channel].value}"
            raise channels.error(tier.value, f"{_show(name)} is {where}")
        seen[channel] = tier
        result.append(channel)
    return tuple(result)


def _routing(top: _Table) -> RoutingEntry | None:
    data = top.data.get("routing")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise top.error("routing", "expected a table, written [routing]")
    routing = _Table(top.source, "routing", data, ROUTING_KEYS)
    return RoutingEntry(
        default_team=routing.matching("default_team", SLUG, f"a team name ({_SLUG_RULE})", required=False),
        rules=tuple(_rule(routing, position, rule) for position, rule in routing.tables("rules", "routing.rules")),
    )


def _rule(routing: _Table, position: int, data: dict) -> RuleEntry:
    rule = _Table(routing.source, f"routing.rules[{position}]", data, RULE_KEYS)
    return RuleEntry(
        position=position,
        match=_match(rule),
        team=rule.matching("team", SLUG, f"a team name ({_SLUG_RULE})"),
        priority=_rule_priority(rule),
        service=rule.text("service", required=False),
    )


def _match(rule: _Table) -> dict[str, str]:
    match = rule.data.get("match")
    if match is None:
        raise rule.error("match", 'missing; it is required, like match = { namespace = "pay-*" }')
    if not isinstance(match, dict):
        raise rule.error("match", f'expected a table of labels, like {{ severity = "critical" }}, got {_show(match)}')
    if not match:
        raise rule.error("match", "expected at least one label; default_team places alerts no rule matches")
    for name, glob in match.items():
        if not LABEL_NAME.fullmatch(name):
            raise rule.error(f"match.{name}", "not a label name (letters, digits and _, not starting with a digit)")
        if not isinstance(glob, str) or not glob:
            raise rule.error(f"match.{name}", f'expected a non-empty glob in quotes, like "pay-*", got {_show(glob)}')
        if len(glob) > MAX_TEXT:
            raise rule.error(f"match.{name}", f"too long: at most {MAX_TEXT} characters")
    return dict(match)


def _rule_priority(rule: _Table) -> Priority | None:
    value = rule.text("priority", required=False)
    if value is None:
        return None
    if value.upper() not in Priority.__members__:
        expected = _one_of(tuple(priority.lower() for priority in Priority))
        raise rule.error("priority", f"expected {expected}, got {_show(value)}")
    return Priority[value.upper()]


def _check_unique(directory: Directory) -> None:
    _first_of(directory, [(schedule.label, "name", schedule.name) for schedule in directory.schedules])
    _first_of(directory, [(team.label, "name", team.name) for team in directory.teams])
    _first_of(directory, [(user.label, "handle", user.handle) for user in directory.users])
    emails = [(user.label, "email", user.email.lower()) for user in directory.users if user.email]
    _first_of(directory, emails)


def _first_of(directory: Directory, keyed: list[tuple[str, str, str]]) -> None:
    """Raise on the first (entry, field, value) whose value an earlier entry already has."""
    first: dict[str, str] = {}
    for entry, field, value in keyed:
        if value in first:
            raise directory.error(entry, field, f"{_show(value)} is also in {first[value]}")
        first[value] = entry


# --- schedules ([[schedules]], [[schedules.rotations]], [[schedules.overrides]]) ----------------

_LOCAL_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
_LOCAL_TIME = 'a local date and time like "2026-12-07T09:00" (the zone is the schedule\'s time_zone)'


def _schedules(top: _Table) -> tuple[ScheduleEntry, ...]:
    return tuple(_schedule(top, position, data) for position, data in top.tables("schedules", "schedules"))


def _schedule(top: _Table, position: int, data: dict) -> ScheduleEntry:
    table = _Table(top.source, _entry("schedules", position, data, "name"), data, SCHEDULE_KEYS)
    name = table.matching("name", SLUG, f"a schedule name ({_SLUG_RULE})")
    time_zone = _time_zone(table, required=True)
    rotations = tuple(
        _rotation(table, number, rotation) for number, rotation in table.tables("rotations", "schedules.rotations")
    )
    ical_url = table.matching("ical_url", FEED_URL, "an http(s) or webcal URL of an iCalendar feed", required=False)
    if not rotations and not ical_url:
        raise table.error("rotations", "expected at least one rotation, written [[schedules.rotations]], or an ical_url")
    overrides = tuple(
        _override(table, number, override, ZoneInfo(time_zone))
        for number, override in table.tables("overrides", "schedules.overrides")
    )
    team = table.matching("team", SLUG, f"a team name ({_SLUG_RULE})", required=False)
    return ScheduleEntry(position, name, time_zone, team, rotations, overrides, ical_url)


def _rotation(schedule: _Table, number: int, data: dict) -> RotationEntry:
    table = _Table(schedule.source, f"{schedule.entry}: rotations[{number}]", data, ROTATION_KEYS)
    users = table.texts("users")
    for handle in users:
        if not SLUG.fullmatch(handle):
            raise table.error("users", f"{_show(handle)} is not a user handle ({_SLUG_RULE})")
    if not users:
        raise table.error("users", "expected at least one user handle")
    shift_text = table.text("shift")
    shift = parse_shift_length(shift_text)
    if shift is None:
        raise table.error("shift", f"expected a length like 12h, 1d or 1w (at most a year), got {_show(shift_text)}")
    return RotationEntry(number, users, _local_time(table, "start"), shift, _weekdays(table), _window(table))


def _weekdays(table: _Table) -> frozenset[int]:
    names = table.texts("days")
    days = set()
    for name in names:
        if name.lower() not in WEEKDAYS:
            raise table.error("days", f"unknown day {_show(name)}; expected {_one_of(WEEKDAYS)}")
        days.add(WEEKDAYS.index(name.lower()))
    if names and len(days) != len(names):
        raise table.error("days", "a day is listed twice")
    return frozenset(days)


def _window(table: _Table) -> Window:
    text = table.text("hours", required=False)
    if text is None:
        return WHOLE_DAY
    window = parse_window(text)
    if window is None:
        raise table.error("hours", f'expected a daily window like "09:00-17:00" or "22:00-06:00", got {_show(text)}')
    return window


def _override(schedule: _Table, number: int, data: dict, zone: ZoneInfo) -> OverrideEntry:
    table = _Table(schedule.source, f"{schedule.entry}: overrides[{number}]", data, OVERRIDE_KEYS)
    user = table.matching("user", SLUG, f"a user handle ({_SLUG_RULE})")
    start, end = _local_time(table, "start"), _local_time(table, "end")
    if to_instant(end, zone) <= to_instant(start, zone):
        raise table.error("end", f"must be after start ({start:%Y-%m-%dT%H:%M})")
    return OverrideEntry(number, user, start, end)


def _local_time(table: _Table, key: str) -> datetime:
    value = table.data.get(key)
    if value is None:
        raise table.error(key, "missing; it is required")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise table.error(key, f"expected {_LOCAL_TIME}, without an offset")
        return _in_range(table, key, value)
    if isinstance(value, str):
        for pattern in _LOCAL_TIME_FORMATS:
            try:
                return _in_range(table, key, datetime.strptime(value.strip(), pattern))
            except ValueError:
                continue
    raise table.error(key, f"expected {_LOCAL_TIME}, got {_show(value)}")


def _in_range(table: _Table, key: str, value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise table.error(key, f"expected a year from 2000 to 2100, got {value.year}")
    return value


def _one_of(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def _show(value) -> str:
    """A TOML value as it would be written in the file."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)
