"""peewee's asyncio SQLite database with one trip to the connection's thread per statement.

``playhouse.pwasyncio`` runs each statement as three calls on aiosqlite's thread (execute, fetch
every row, close the cursor), each a hand-off between threads and back. Under load, on a busy
machine, each hand-off waits for the scheduler, and a write transaction of twenty statements
held SQLite's one write lock through sixty of them. Here a statement is one call: execute,
fetch, close, together on that thread; and a pooled connection is taken without pwasyncio's
two ``asyncio.wait_for`` (a task and a timer each), in the order tasks asked for one
(``storage.pool_slots``): a free one at once, otherwise under one ``asyncio.timeout``.
"""
from __future__ import annotations

import asyncio
import sqlite3

from peewee import InterfaceError, OperationalError
from playhouse.pwasyncio import AsyncSqliteConnection, AsyncSqliteDatabase, AsyncSqlitePool, CursorAdapter

from storage.pool_slots import PoolSlots


def _run(connection: sqlite3.Connection, sql: str, params) -> tuple:
    """On the connection's thread: the statement's rows and what peewee reads off its cursor."""
    cursor = connection.execute(sql, params)
    try:
        return cursor.fetchall(), cursor.lastrowid, cursor.rowcount, cursor.description
    finally:
        cursor.close()


class _OneTripConnection(AsyncSqliteConnection):
    async def _execute(self, sql, params=None):
        raw = self.conn._conn  # the sqlite3 connection, used only on aiosqlite's own thread
        rows, lastrowid, rowcount, description = await self.conn._execute(_run, raw, sql, params or ())
        return CursorAdapter(rows, lastrowid=lastrowid, rowcount=rowcount, description=description)


class _OneTripPool(AsyncSqlitePool):
    """pwasyncio's pool, its connections handed out in the order they were asked for
    (``PoolSlots``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._slots = PoolSlots(self._pool_size)

    async def _create_connection(self):
        plain = await super()._create_connection()
        return _OneTripConnection(plain.conn)

    async def acquire(self, timeout=None):
        if self._closed:
            raise InterfaceError("Pool is closed.")
        await self._slots.take(timeout)
        try:
            return self._queue.get_nowait()  # a slot held is a connection idle
        except asyncio.QueueEmpty:  # the pool was closed meanwhile
            self._slots.give_back()
            raise InterfaceError("Pool is closed.") from None

    async def release(self, conn):
        # The slot goes back only with its connection: when no replacement for a broken one
        # could be made, the pool is one smaller, as pwasyncio's would be.
        await super().release(conn)
        self._slots.give_back()


class OneTripSqliteDatabase(AsyncSqliteDatabase):
    async def _acquire_conn_async(self):
        pool = self._pool
        if not isinstance(pool, _OneTripPool):  # not made yet, or being replaced
            return await super()._acquire_conn_async()
        try:
            conn = await pool.acquire(self._acquire_timeout)
        except TimeoutError:
            raise OperationalError(
                f"Timed out acquiring connection from pool (acquire_timeout={self._acquire_timeout})",
            ) from None
        conn._pool = pool  # as pwasyncio tags it, for the release
        return conn

    async def _create_pool_async(self):
        pool = _OneTripPool(
            self.database, pool_size=1 if self.database == ":memory:" else self._pool_size,
            on_connect=self._add_conn_hooks, timeout=self._timeout, **self.connect_params,
        )
        return await pool.initialize()
