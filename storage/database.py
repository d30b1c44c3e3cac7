"""Opening the database: SQLite by default, PostgreSQL from a postgresql:// URL.

Every query runs through peewee's asyncio support (``playhouse.pwasyncio``): synchronous peewee
code runs inside ``await database.run(fn, ...)`` and waits on the driver without blocking the
event loop. Models bind to the ``database`` proxy, initialised by ``open_database``.

pwasyncio lends a pooled connection to an asyncio task until the task ends. Here a task holds
one only while a ``database.run`` does its work (``ConnectionPerRun``): a request that reads
once and then waits on Slack, or on an HTTP answer, leaves the connection to others.
"""
from __future__ import annotations

import asyncio
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from peewee import DatabaseProxy
from playhouse.pwasyncio import AsyncPostgresqlDatabase, await_

from storage.postgres_bridge import SteadyPostgresqlDatabase
from storage.sqlite_bridge import OneTripSqliteDatabase

database = DatabaseProxy()


class ConnectionPerRun:
    """Mixed into a pwasyncio database: after each ``run`` outside a transaction, the task's
    connection goes back to the pool."""

    async def run(self, fn, *args, **kwargs):
        try:
            return await super().run(fn, *args, **kwargs)
        finally:
            await self._hand_back()

    async def _hand_back(self) -> None:
        try:
            state = self._state._current()  # type: ignore[attr-defined]
        except RuntimeError:  # no task: nothing was lent
            return
        if state.conn is None or state.transactions:
            return
        conn = state.conn
        state.reset()
        await self._release_conn(conn)  # type: ignore[attr-defined]


async def _nothing_to_reset(connection) -> None:
    """asyncpg's reset for a connection handed back to the pool. Its default sends a statement
    (RESET ALL, UNLISTEN *, ...) on every hand-back, one round trip per ``database.run``; Ackbot
    changes no session state (no SET, LISTEN, advisory locks or cursors outside a transaction),
    and an open transaction is rolled back before the hand-back."""


class _SqliteDatabase(ConnectionPerRun, OneTripSqliteDatabase):
    pass


class _PostgresqlDatabase(ConnectionPerRun, SteadyPostgresqlDatabase):
    pass

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("foreign_keys", 1),
    ("busy_timeout", 10000),
    ("synchronous", "normal"),
)


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


def make_database(url: str, pool_size: int = 10):
    """A peewee asyncio database for ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise DatabaseURLError("expected sqlite:///path/to/file.db")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        opened = _SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, pool_size=pool_size)
        opened.write_lock = asyncio.Lock()  # see write_transaction
        return opened
    if scheme in ("postgresql", "postgres"):
        # No minimum pool size: asyncpg would keep reconnecting to restore it during an outage,
        # logging a traceback each time; connections are made when tasks need them.
        return _PostgresqlDatabase(url, pool_size=pool_size, pool_min_size=0, reset=_nothing_to_reset)
    raise DatabaseURLError("expected a sqlite:/// or postgresql:// URL")


def open_database(url: str, pool_size: int = 10):
    """Make the database for ``url`` and bind every model to it. No connection is made yet."""
    opened = make_database(url, pool_size)
    database.initialize(opened)
    return opened


def is_postgres() -> bool:
    return isinstance(database.obj, AsyncPostgresqlDatabase)


@contextmanager
def write_transaction():
    """A transaction that will write. Synchronous: use inside ``database.run``.

    On SQLite it is IMMEDIATE, so it takes the write lock up front (a deferred one that reads
    first can fail at once with SQLITE_BUSY instead of waiting), and the writers of this process
    take turns on an asyncio lock first: otherwise they wait in SQLite's busy handler, which
    sleeps in growing steps while the lock sits free (seconds of tail latency under load).
    """
    if is_postgres():
        with database.atomic():
            yield
        return
    with _one_writer_at_a_time():
        with database.atomic("IMMEDIATE"):
            yield


@contextmanager
def _one_writer_at_a_time():
    state = database.obj
    task = asyncio.current_task()
    if getattr(state, "_writer", None) is task:  # a nested write transaction of the same task
        yield
        return
    # The connection first, then the turn: a task waiting for its turn while holding no
    # connection could otherwise starve the writer of one.
    database.connect()
    lock = state.write_lock
    await_(lock.acquire())
    state._writer = task
    try:
        yield
    finally:
        state._writer = None
        lock.release()


def probe_writable() -> None:
    """Succeeds when the database can be used again. On SQLite it takes the write lock (another
    process may hold it) in a transaction that writes nothing, without taking this process's
    turn (``write_transaction``): it must not hold up the writers of this process while it waits.
    Synchronous."""
    if is_postgres():
        database.execute_sql("SELECT 1")
        return
    with database.atomic("IMMEDIATE"):
        pass


def lock_rows(query, skip_locked: bool = False):
    """``query`` with FOR UPDATE on PostgreSQL; SQLite's write transaction already excludes
    other writers, so there it is unchanged."""
    if is_postgres():
        return query.for_update(skip_locked=skip_locked or None)
    return query


def lock_rows_sql(skip_locked: bool = False) -> str:
    """What ``lock_rows`` adds, for the end of a hand-written SELECT."""
    if not is_postgres():
        return ""
    return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"


async def close_database() -> None:
    if database.obj is not None:
        await database.obj.close_pool()


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
