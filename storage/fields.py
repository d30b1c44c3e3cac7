"""Peewee fields Ackbot needs on both SQLite and PostgreSQL: UTC times, JSON text, encrypted text."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from peewee import Field, TextField

from storage.database import is_postgres
from storage.keyring import Keyring, KeyringError

_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTimeField(Field):
    """A timezone-aware UTC datetime.

    PostgreSQL stores TIMESTAMPTZ. SQLite stores fixed-width UTC text, so text order is time
    order and comparisons in SQL work. Naive datetimes are refused: every time in Ackbot is aware.
    """

    field_type = "TIMESTAMPTZ"

    def db_value(self, value):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{self.name}: naive datetime; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if is_postgres():
            return value
        return value.strftime(_SQLITE_TIME_FORMAT)

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            # fromisoformat reads the stored format ~50x faster than strptime: this is a hot path.
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONTextField(TextField):
    """JSON kept as text, so it reads the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class _KeyringHolder:
    keyring: Keyring | None = None


def use_keyring(keyring: Keyring) -> None:
    """Install the keyring every EncryptedTextField uses (done once, at start-up)."""
    _KeyringHolder.keyring = keyring


def current_keyring() -> Keyring:
    if _KeyringHolder.keyring is None:
        raise KeyringError("no encryption keyring is configured")
    return _KeyringHolder.keyring


class EncryptedTextField(TextField):
    """Text encrypted at rest with the keyring's first key; any key in the keyring decrypts it."""

    def db_value(self, value):
        return None if value is None else current_keyring().encrypt(value)

    def python_value(self, value):
        return None if value is None else current_keyring().decrypt(value)
