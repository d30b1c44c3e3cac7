"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when
ACKBOT_TEST_POSTGRES_URL is set), settings for tests, and a keyring.

Each test session gets its own PostgreSQL database, made from the configured one and dropped at
the end, so parallel runs never share tables; tables are emptied between tests.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from app import Secret, Settings
from storage.database import close_database, database, is_postgres, open_database
from storage.fields import use_keyring
from storage.keyring import Keyring, generate_key
from storage.migrations import migrate
from storage.models import MODELS

POSTGRES_URL_VARIABLE = "ACKBOT_TEST_POSTGRES_URL"


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database URL for this session, or a skip when none is configured."""
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base and os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_URL_VARIABLE} must be set in CI: the PostgreSQL tests may not skip there")
    if not base:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set")
    name = f"ackbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def admin(statement):
        connection = await asyncpg.connect(base)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    # Commits need not wait for the disk: a test database never has to outlive a server crash,
    # and the emptying between tests and most test steps each commit.
    asyncio.run(admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    yield _with_database(base, name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def encryption_key() -> str:
    return generate_key()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated, empty SQLite database made once: each test starts from a copy, since running
    every migration on a new file took most of a short test."""
    path = tmp_path_factory.mktemp("template") / "ackbot.db"

    async def make():
        use_keyring(Keyring((generate_key(),)))
        open_database(f"sqlite:///{path}")
        await migrate()
        await close_database()

    asyncio.run(make())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    """The URL of an empty database of each kind (the PostgreSQL one skips when not configured)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        for suffix in ("", "-wal"):
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", tmp_path / f"ackbot.db{suffix}")
        return f"sqlite:///{tmp_path / 'ackbot.db'}"
    return request.getfixturevalue("postgres_url")


def _emptying_statement() -> str:
    """One statement emptying every table (DELETE with foreign keys off: the test user is a
    superuser; TRUNCATE of every table took ten times as long) and restarting the id sequences a
    test has drawn from (restarting all of them was most of the emptying). One statement, so it
    runs on a pooled connection instead of a new one."""
    names = [model._meta.table_name for model in MODELS]
    deletes = "".join(f'DELETE FROM "{name}";' for name in names)
    listed = ", ".join(f"'{name}'" for name in names)
    return (
        "DO $$ DECLARE drawn regclass; BEGIN SET LOCAL session_replication_role = replica;" + deletes
        + f" FOR drawn IN SELECT pg_get_serial_sequence(quote_ident(name), 'id')::regclass FROM unnest(ARRAY[{listed}]) AS name"
        + " LOOP IF drawn IS NOT NULL AND pg_sequence_last_value(drawn) IS NOT NULL THEN"
        + " EXECUTE 'ALTER SEQUENCE ' || drawn::text || ' RESTART'; END IF; END LOOP; END $$"
    )


_EMPTYING = _emptying_statement()


async def _empty_postgres() -> None:
    """Every table of the open PostgreSQL database emptied and its ids restarted."""
    await database.run(database.execute_sql, _EMPTYING)


async def _open_empty(url: str) -> None:
    open_database(url)
    await migrate()
    if is_postgres():
        await _empty_postgres()


@pytest.fixture
async def storage(database_url: str, encryption_key: str):
    """An open, migrated, empty database bound to the models; yields its URL."""
    use_keyring(Keyring((encryption_key,)))
    await _open_empty(database_url)
    yield database_url
    await close_database()


@pytest.fixture
async def empty_database_url(database_url: str, encryption_key: str) -> str:
    """The URL of a migrated, empty database that is not left open (for tests that start the
    whole application, which opens it itself). A SQLite one is a fresh copy of the migrated
    template already: opening it (ten pooled connections) only to close it was most of a setup."""
    use_keyring(Keyring((encryption_key,)))
    if database_url.startswith("sqlite"):
        return database_url
    await _open_empty(database_url)
    await close_database()
    return database_url


@pytest.fixture
def settings(empty_database_url: str, encryption_key: str, tmp_path: Path) -> Settings:
    """Settings for an application on the empty database, with the dispatcher off (tests drive it)."""
    return Settings(
        data_dir=tmp_path, database_url=empty_database_url, encryption_keys=(Secret(encryption_key),),
        dispatcher=False, public_url="http://ackbot.test",
    ).with_defaults()
