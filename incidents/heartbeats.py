"""Heartbeats (dead man's switches): a sender pings at least every timeout; when a timeout passes
without a ping, an incident opens ("no heartbeat from NAME for 10 minutes"), and the next ping
resolves it.

Every process running a dispatcher checks for silent heartbeats. One incident opens per silence
however many check at once: the check claims the silence with a conditional update (``expired_at``
still NULL) in the same transaction that opens the incident, whose dedup key is the heartbeat's.

The ``*_now`` functions are synchronous transactions for ``database.run``; ``Heartbeats`` is the
async API the CLI manages heartbeats with (the service checks and pings them); the rest is pure.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import IntegrityError

from incidents import api_keys, lifecycle
from incidents.action_tokens import hash_token
from incidents.intake import TriggerRequest
from incidents.lifecycle import Actor, EngineConfig
from storage.database import database, lock_rows, write_transaction
from storage.enums import Action, Priority
from storage.fields import utcnow
from storage.models import Heartbeat, Team

NAME_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Generated keys are token_urlsafe(32); a kept one (an OnCall integration key) follows the rule
# for kept API keys: long enough not to be guessed, safe in a URL path.
KEY_FORMAT = re.compile(rf"[A-Za-z0-9._~-]{{{api_keys.KEY_MIN_LENGTH},{api_keys.KEY_MAX_LENGTH}}}")
MIN_TIMEOUT = timedelta(minutes=1)
MAX_TIMEOUT = timedelta(days=30)
# What `heartbeat list` shows to tell keys apart; of a kept key, whose every character is
# secret, less.
_SHOWN_PREFIX_LENGTH = 8
_SHOWN_KEPT_LENGTH = 4
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_NAMES = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
VIA = "HEARTBEAT"


class HeartbeatError(Exception):
    """A heartbeat cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class Ping:
    """A ping was recorded for heartbeat ``name``; ``resolved`` is the incident it resolved."""

    name: str
    resolved: int | None


def parse_timeout(text: str) -> timedelta:
    """"90s", "10m", "2h", "1d" or a number of seconds, from 1 minute to 30 days."""
    cleaned = text.strip().lower()
    unit = _UNITS.get(cleaned[-1:]) if cleaned else None
    number = cleaned[:-1] if unit else cleaned
    if not (number.isascii() and number.isdigit()):
        raise HeartbeatError(f"expected a timeout like 10m, 2h or 1d, got {text!r}")
    timeout = timedelta(seconds=int(number) * (unit or 1))
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise HeartbeatError(f"a timeout is from 1 minute to 30 days, got {text!r}")
    return timeout


def describe_timeout(seconds: int) -> str:
    """How people read a timeout: "10 minutes", "1 hour", "90 seconds"."""
    size, name = next((size, name) for size, name in _UNIT_NAMES if seconds % size == 0)
    count = seconds // size
    return f"{count} {name}" + ("" if count == 1 else "s")


def dedup_key(heartbeat: Heartbeat) -> str:
    return f"heartbeat:{heartbeat.id}"


def missed_trigger(heartbeat: Heartbeat, team_name: str | None, now: datetime) -> TriggerRequest:
    """The incident a silent heartbeat opens."""
    timeout = describe_timeout(heartbeat.timeout_seconds)
    if heartbeat.last_ping_at is None:
        since = f"none has come since it was created at {heartbeat.created_at:%Y-%m-%d %H:%M:%S} UTC"
    else:
        since = f"the last came at {heartbeat.last_ping_at:%Y-%m-%d %H:%M:%S} UTC"
    return TriggerRequest(
        title=f"No heartbeat from {heartbeat.name} for {timeout}",
        body=f"Heartbeat {heartbeat.name} expects a ping at least every {timeout}; {since}."
             " The next ping resolves this incident.",
        priority=Priority.HIGH,
        service=heartbeat.name,
        team=team_name,
        dedup_key=dedup_key(heartbeat),
        labels={"alertname": "heartbeat", "heartbeat": heartbeat.name},
    )


def new_key() -> str:
    return secrets.token_urlsafe(32)


def create_now(name: str, team: str | None, timeout: timedelta, key: str, kept: bool, now: datetime) -> Heartbeat:
    """Create heartbeat ``name`` pinged with ``key`` (``kept``: one a sender already has); its
    clock starts now. Raises HeartbeatError."""
    if not NAME_FORMAT.fullmatch(name):
        raise HeartbeatError("a heartbeat name is 1 to 100 letters, digits, '-', '_' or '.', starting with a letter or digit")
    if not KEY_FORMAT.fullmatch(key):
        raise HeartbeatError(
            f"a heartbeat key is {api_keys.KEY_MIN_LENGTH} to {api_keys.KEY_MAX_LENGTH} letters, digits, '.', '_', '~' or '-'"
        )
    team_row = None
    if team is not None:
        team_row = Team.get_or_none(Team.name == team.strip().lower())
        if team_row is None:
            raise HeartbeatError(f"no team named {team!r} (apply the people file first)")
    try:
        with write_transaction():
            return Heartbeat.create(
                name=name, key_hash=hash_token(key), prefix=key[:_SHOWN_KEPT_LENGTH if kept else _SHOWN_PREFIX_LENGTH],
                team=team_row,
                timeout_seconds=int(timeout.total_seconds()), deadline_at=now + timeout, created_at=now,
            )
    except IntegrityError:
        raise HeartbeatError(f"a heartbeat named {name} (or with that key) already exists") from None


def list_now() -> list[tuple[Heartbeat, str | None]]:
    """Every heartbeat by name, with its team's name."""
    names = dict(Team.select(Team.id, Team.name).tuples())
    return [(row, names.get(row.team_id)) for row in Heartbeat.select().order_by(Heartbeat.name)]


def remove_now(name: str) -> bool:
    return Heartbeat.delete().where(Heartbeat.name == name).execute() > 0


def due_ids_now(now: datetime, limit: int) -> list[int]:
    """Heartbeats silent past their deadline whose silence has no incident yet."""
    query = Heartbeat.select(Heartbeat.id).where(Heartbeat.expired_at.is_null() & (Heartbeat.deadline_at <= now))
    return [row.id for row in query.order_by(Heartbeat.deadline_at).limit(limit)]


def expire_now(heartbeat_id: int, config: EngineConfig, now: datetime) -> int | None:
    """Open the incident of a silent heartbeat, unless another check already did (or a ping came):
    the conditional update lets one transaction through. Returns the incident number opened."""
    with write_transaction():
        claimed = Heartbeat.update(expired_at=now).where(
            (Heartbeat.id == heartbeat_id) & Heartbeat.expired_at.is_null() & (Heartbeat.deadline_at <= now)
        ).execute()
        if claimed != 1:
            return None
        heartbeat = Heartbeat.get_by_id(heartbeat_id)
        team_name = Team.get_by_id(heartbeat.team_id).name if heartbeat.team_id else None
        triggered = lifecycle.trigger(missed_trigger(heartbeat, team_name, now), config, now)
    return triggered.incident.id if triggered.created else None


def ping_now(key: str, config: EngineConfig, now: datetime) -> Ping | None:
    """Record a ping by the heartbeat whose key is ``key`` (None: no such heartbeat); a ping
    ending a silence that opened an incident resolves it, in the same transaction."""
    if not isinstance(key, str) or not KEY_FORMAT.fullmatch(key):
        return None
    with write_transaction():
        heartbeat = lock_rows(Heartbeat.select().where(Heartbeat.key_hash == hash_token(key))).first()
        if heartbeat is None:
            return None
        Heartbeat.update(
            last_ping_at=now, deadline_at=now + timedelta(seconds=heartbeat.timeout_seconds), expired_at=None,
        ).where(Heartbeat.id == heartbeat.id).execute()
        resolved = None
        if heartbeat.expired_at is not None:
            number = lifecycle.open_incident_id(dedup_key(heartbeat))
            if number is not None:
                actor = Actor(name=f"heartbeat {heartbeat.name}", via=VIA)
                resolved = lifecycle.transition(number, Action.RESOLVE, actor, config, now).incident.id
    return Ping(heartbeat.name, resolved)


class Heartbeats:
    """Creating, listing and removing heartbeats."""

    def __init__(self, clock: Callable[[], datetime] = utcnow):
        self.clock = clock

    async def create(self, name: str, team: str | None, timeout: timedelta, key: str | None) -> str:
        """Create heartbeat ``name`` and return its key (``key``, or a new one): the only time it
        is available. Raises HeartbeatError."""
        kept = key is not None
        key = key if key is not None else new_key()
        await database.run(create_now, name, team, timeout, key, kept, self.clock())
        return key

    async def all_heartbeats(self) -> list[tuple[Heartbeat, str | None]]:
        """Every heartbeat by name, with its team's name (None: the default team)."""
        return await database.run(list_now)

    async def remove(self, name: str) -> bool:
        """Remove heartbeat ``name``; False when there is none. An incident it opened stays open."""
        return await database.run(remove_now, name)
