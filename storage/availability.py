"""Whether an error means "the database is unavailable right now", and saying so once.

An outage (PostgreSQL restarting, failing over or unreachable; an SQLite file locked by another
process or not writable) is a condition that passes: the right answer to it is "try again later"
(HTTP 503 with Retry-After, a dispatcher that waits), one warning when it starts and one when it
ends. Every other error is a bug or bad data and keeps its traceback.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import asyncpg
import peewee

# SQLite result codes (the primary code, the low byte) of a database that cannot be written or
# read now: busy or locked by another connection, read-only, an I/O error, a full disk, a file
# that cannot be opened.
_SQLITE_UNAVAILABLE = {5, 6, 8, 10, 13, 14}

# PostgreSQL: the connection could not be made or was lost, the server is shutting down or
# starting up, it has no connection slot free, or it is (after a failover) a read-only standby.
_POSTGRES_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,
)

LOST_IN_TRANSACTION = "the database connection was lost in the middle of a transaction"

# The messages of peewee's (and storage.postgres_bridge's) own errors that mean the same.
_UNAVAILABLE_MESSAGES = (
    "Timed out connecting to database",
    "Timed out acquiring connection",
    LOST_IN_TRANSACTION,
)

# Where the database is reached from: an OSError raised elsewhere (a call to Slack, say) is not
# the database's.
_DATABASE_MODULES = ("asyncpg", "aiosqlite", "peewee", "playhouse")


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` (or the driver error it wraps) says the database cannot be reached,
    or used, right now. peewee wraps driver errors, so the whole chain is looked at."""
    return any(_unavailable_itself(item) for item in error_chain(error))


def error_chain(error: BaseException):
    """``error``, then what it wraps (its cause, its context, and peewee's ``orig``: the driver
    error a peewee error was made from)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [item.__cause__, item.__context__, getattr(item, "orig", None)]


def _unavailable_itself(error: BaseException) -> bool:
    if isinstance(error, OSError):  # refused, reset, unreachable, timed out (TimeoutError)
        return _raised_reaching_the_database(error)
    if isinstance(error, sqlite3.Error):
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_UNAVAILABLE
    if isinstance(error, _POSTGRES_UNAVAILABLE):
        return True
    if isinstance(error, asyncpg.InterfaceError):
        return "connection is closed" in str(error) or "connection was closed" in str(error)
    if isinstance(error, peewee.PeeweeException):
        return str(error).startswith(_UNAVAILABLE_MESSAGES)
    return False


def _raised_reaching_the_database(error: BaseException) -> bool:
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__", "").startswith(_DATABASE_MODULES):
            return True
        frame = frame.tb_next
    return False


def kind(error: BaseException) -> str:
    """The type name of the innermost error ``error`` wraps: the driver's own word for it."""
    return type(list(error_chain(error))[-1]).__name__


def describe(error: BaseException) -> str:
    """A short reason for logs: the innermost driver error's type and first line."""
    innermost = list(error_chain(error))[-1]
    text = str(innermost).strip().splitlines()[0][:120] if str(innermost).strip() else ""
    return f"{type(innermost).__name__}: {text}" if text else type(innermost).__name__


class OutageLog:
    """Says once, with a warning, that the database went away (``unavailable``), and once that
    it is back (``available``); callers report every failure and success, this keeps quiet in
    between."""

    def __init__(self, logger: logging.Logger, where: str, clock=time.monotonic):
        self._log = logger
        self._where = where
        self._clock = clock
        self._since: float | None = None

    def unavailable(self, error: BaseException) -> None:
        if self._since is None:
            self._since = self._clock()
            self._log.warning("%s: the database is unavailable (%s); retrying until it is back", self._where,
                              describe(error))

    def available(self) -> None:
        if self._since is not None:
            self._log.warning("%s: the database is back after %.1fs", self._where, self._clock() - self._since)
            self._since = None


async def wait_until_available(probe, outage: OutageLog, interval: float = 0.2) -> None:
    """Await ``probe()`` every ``interval`` seconds until it succeeds (or fails otherwise than by
    an outage: the database can be reached again); then report it back."""
    while True:
        try:
            await probe()
        except Exception as error:
            if is_unavailable(error):
                await asyncio.sleep(interval)
                continue
        outage.available()
        return


class OutageWatch:
    """For a server: requests ``report`` the outage errors they meet (the first one is logged),
    and one background ``probe`` (an async callable) notices when the database is back."""

    def __init__(self, probe, outage: OutageLog, interval: float = 0.2):
        self._probe = probe
        self.outage = outage
        self._interval = interval
        self._task: asyncio.Task | None = None

    def report(self, error: BaseException) -> None:
        self.outage.unavailable(error)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(wait_until_available(self._probe, self.outage, self._interval))

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
