"""Which errors mean "the database is unavailable right now" (real driver errors, wrapped as
peewee wraps them), and the once-per-outage warnings."""
from __future__ import annotations

import logging
import socket
import sqlite3

import asyncpg
import peewee
import pytest

from storage.availability import OutageLog, describe, is_unavailable, kind


def _peewee_wrapped(error: Exception, wrapper=peewee.OperationalError) -> Exception:
    """``error`` as peewee's exception wrapper raises it (the original as ``orig`` and the context)."""
    try:
        try:
            raise error
        except Exception as original:
            raise wrapper(original, *original.args) from None
    except Exception as wrapped:
        wrapped.__suppress_context__ = False
        return wrapped


def _database_file(tmp_path):
    path = tmp_path / "probe.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE IF NOT EXISTS t (x)")
    setup.commit()
    setup.close()
    return path


def _sqlite_error(path, statement: str, uri: str) -> sqlite3.Error:
    connection = sqlite3.connect(uri.format(path=path), uri=True, timeout=0)
    try:
        connection.execute(statement)
    except sqlite3.Error as error:
        return error
    finally:
        connection.close()
    pytest.fail("the statement did not fail")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_refused_postgresql_connection_is_unavailable():
    with pytest.raises(OSError) as refused:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{_free_port()}/x", timeout=5)
    assert is_unavailable(refused.value)
    assert is_unavailable(_peewee_wrapped(refused.value))
    assert kind(_peewee_wrapped(refused.value)) == "ConnectionRefusedError"


def test_a_read_only_sqlite_file_is_unavailable(tmp_path):
    error = _sqlite_error(_database_file(tmp_path), "INSERT INTO t VALUES (1)", "file:{path}?mode=ro")
    assert "readonly" in str(error)
    assert is_unavailable(error) and is_unavailable(_peewee_wrapped(error))


def test_a_locked_sqlite_file_is_unavailable(tmp_path):
    path = _database_file(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _sqlite_error(path, "INSERT INTO t VALUES (1)", "file:{path}")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in str(error)
    assert is_unavailable(_peewee_wrapped(error))


@pytest.mark.parametrize("error", [
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    asyncpg.InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed"),
    peewee.OperationalError("Timed out acquiring connection from pool (acquire_timeout=10)."),
])
def test_lost_and_refused_postgresql_connections_are_unavailable(error):
    assert is_unavailable(_peewee_wrapped(error, peewee.InterfaceError))


def test_bugs_and_bad_data_are_not(tmp_path):
    no_table = _sqlite_error(_database_file(tmp_path), "SELECT * FROM missing", "file:{path}")
    assert not is_unavailable(_peewee_wrapped(no_table))
    assert not is_unavailable(_peewee_wrapped(asyncpg.UniqueViolationError("duplicate key"), peewee.IntegrityError))
    assert not is_unavailable(_peewee_wrapped(asyncpg.UndefinedTableError("relation does not exist")))
    assert not is_unavailable(ValueError("bad"))
    try:
        raise ConnectionRefusedError(111, "Connect call failed")  # as a call to Slack might
    except OSError as elsewhere:
        assert not is_unavailable(elsewhere), "an OSError raised away from the database is not its outage"
    assert not is_unavailable(peewee.OperationalError("something else"))


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    now = [100.0]
    outage = OutageLog(logging.getLogger("test.outage"), "server", clock=lambda: now[0])
    refused = _peewee_wrapped(ConnectionRefusedError(111, "Connect call failed"))
    with caplog.at_level(logging.WARNING, "test.outage"):
        outage.available()
        for _ in range(50):
            outage.unavailable(refused)
        now[0] += 10.5
        outage.available()
        outage.available()
    assert [record.getMessage() for record in caplog.records] == [
        "server: the database is unavailable (ConnectionRefusedError: [Errno 111] Connect call failed);"
        " retrying until it is back",
        "server: the database is back after 10.5s",
    ]
    assert not any(record.exc_info for record in caplog.records)
    assert describe(ValueError()) == "ValueError"
