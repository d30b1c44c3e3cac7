"""peewee's asyncio PostgreSQL database (``playhouse.pwasyncio``, asyncpg underneath), made to
behave when connections are lost.

pwasyncio keeps one pooled connection per asyncio task. Under connection loss (peewee 4.5,
asyncpg 0.32) three things go wrong, and are put right here:

1. A task keeps its dead connection. ``aconnect`` hands a stale connection back to the pool and
   then acquires another; when that fails (the server is down) the task still refers to the one
   it handed back, and every later attempt hands it back again, each time trying to roll it
   back and logging ``Error rolling back connection`` with asyncpg's ``connection has been
   released back to the pool``. Here the task forgets the connection before acquiring again, and
   a connection that is closed or already handed back is not rolled back.
2. A connection whose rollback fails is handed back to the pool in an unknown state. Here it is
   terminated instead, so no other task can get it.
3. A restart or failover ends every server process: each sends its client a FATAL error, then
   closes. asyncpg reads the error of an idle connection as a protocol error and waits for an
   end of message that never comes; a statement sent in the moment before the close is seen
   is refused with ``cannot switch to state …; another operation (2) is in progress``. No other
   operation uses the connection: it is dead. asyncpg refuses before sending anything, so here
   the connection is dropped and, outside a transaction, the statement (or the BEGIN) is run
   once more on a fresh connection. Inside a transaction the transaction is lost: that is said
   plainly, and the task never carries on on another connection as if it still were in one
   (pwasyncio would: its next statement ran on a fresh connection, outside any transaction).
   A ROLLBACK on a dead connection succeeds at once: the server rolled back when it ended.

Connections are handed out in the order tasks asked for them (``storage.pool_slots``), and taken
without pwasyncio's ``asyncio.wait_for``, which runs every acquire as a task of its own: one more
turn of a busy event loop for each ``database.run``.

And one cost is put right: pwasyncio prepares every statement anew (``Connection.prepare``,
which bypasses asyncpg's statement cache), a round trip to the server before each statement is
run. Here statements go through asyncpg's cache: a statement already seen on the connection is
one round trip. When a migration changed a table under a running process (which ``ackbot serve``
does not expect: migrate first), asyncpg prepares the statement again by itself outside a
transaction; inside one, that transaction fails once, as on a lost connection.
"""
from __future__ import annotations

import asyncio
import logging

import asyncpg
import peewee
from playhouse.pwasyncio import AsyncPostgresqlConnection, AsyncPostgresqlDatabase, CursorAdapter

from storage.availability import LOST_IN_TRANSACTION, error_chain
from storage.pool_slots import PoolSlots

log = logging.getLogger("ackbot.database")


def refused_before_sending(error: BaseException) -> bool:
    """asyncpg refused a statement before sending it, on a connection the server had ended (or
    whose loss had already handed it back to the pool)."""
    return any(
        (isinstance(item, asyncpg.InternalClientError) and str(item).startswith("cannot switch to state"))
        or (isinstance(item, asyncpg.InterfaceError) and "released back to the pool" in str(item))
        for item in error_chain(error)
    )


def _dead(proxy) -> bool:
    try:
        return proxy.is_closed()
    except asyncpg.InterfaceError:  # detached: already handed back
        return True


class SteadyPostgresqlDatabase(AsyncPostgresqlDatabase):
    """``AsyncPostgresqlDatabase`` with the fixes above."""

    _slots: tuple[object, PoolSlots] | None = None  # (the asyncpg pool, its slots)

    async def aconnect(self):
        conn = self._state.conn
        if conn is not None and conn.stale():
            if self.in_transaction():
                raise peewee.OperationalError(LOST_IN_TRANSACTION)
            await self.forget_connection()
        return await super().aconnect()

    async def forget_connection(self) -> None:
        """Drop this task's connection: hand it back, or terminate it when it is not usable."""
        state = self._state._current()
        conn, state.conn, state.closed = state.conn, None, True
        if conn is None:
            return
        try:
            await self._release_conn(conn)
        except Exception as error:  # the connection is gone either way
            log.debug("dropping a lost connection: %s", error)

    async def _pool_acquire(self, pool):
        """A connection from asyncpg's pool, in the order tasks asked (``storage.pool_slots``)."""
        slots = self._slots_for(pool)
        await slots.take(self._acquire_timeout)
        try:
            async with asyncio.timeout(self._acquire_timeout):  # a slot's connection may still have to connect
                proxy = await pool.acquire()
        except BaseException:
            slots.give_back()
            raise
        conn = _SteadyConnection(proxy, self)
        conn.slots = slots
        return conn

    def _slots_for(self, pool) -> PoolSlots:
        # Kept with the pool they count for: a connection of a pool since replaced is closed, not
        # handed back, so its slot must not be one of the new pool's.
        if self._slots is None or self._slots[0] is not pool:
            self._slots = (pool, PoolSlots(self._pool_size))
        return self._slots[1]

    async def _pool_release(self, conn):
        try:
            await self._release_proxy(conn)
        finally:
            slots = getattr(conn, "slots", None)
            if slots is not None:  # a second hand-back of the same connection gives back nothing
                conn.slots = None
                slots.give_back()

    async def _release_proxy(self, conn):
        proxy = conn.conn if conn is not None else None
        if proxy is None or getattr(proxy, "_con", None) is None:
            return  # already handed back (asyncpg detached the proxy)
        if proxy.is_closed():
            proxy.terminate()  # finishes asyncpg's clean-up and frees its pool slot
            return
        try:
            top_transaction = getattr(proxy, "_top_xact", None)
            if top_transaction is not None:
                await top_transaction.rollback()
            elif proxy.is_in_transaction():
                await proxy.execute("ROLLBACK")
        except Exception as error:
            log.debug("terminating a connection that could not be rolled back: %s", error)
            _terminate(proxy)
            return
        try:
            await self._pool.release(proxy)
        except Exception as error:  # its reset failed: asyncpg has terminated it
            log.debug("a connection lost while being handed back: %s", error)
            _terminate(proxy)


class _SteadyConnection(AsyncPostgresqlConnection):
    """Every statement of a task goes through here (queries, and BEGIN/COMMIT/ROLLBACK)."""

    slots: PoolSlots | None = None  # held from the pool's acquire to its release

    def __init__(self, conn, database: SteadyPostgresqlDatabase):
        super().__init__(conn)
        self._database = database

    async def _execute(self, sql, params=None):
        if params:
            sql = self._translate_placeholders(sql)
        # asyncpg's own path for fetch() and execute(): its statement cache, and the command
        # status ("UPDATE 3") that peewee's rowcount comes from.
        records, status, _ = await self.conn._execute(sql, params or (), 0, None, return_status=True)
        return CursorAdapter(records, rowcount=_rowcount(status, len(records)),
                             description=[(name,) for name in records[0].keys()] if records else [])

    async def execute(self, sql, params=None):
        if sql == "ROLLBACK" and _dead(self.conn):
            return CursorAdapter()
        try:
            return await super().execute(sql, params)
        except Exception as error:
            if sql == "ROLLBACK" and _dead(self.conn):
                return CursorAdapter()
            if not refused_before_sending(error):
                raise
            _terminate(self.conn)
            if self._database.in_transaction():
                raise peewee.OperationalError(LOST_IN_TRANSACTION) from error
            fresh = await self._database.aconnect()
            return await fresh.execute(sql, params)


def _rowcount(status: bytes | None, returned: int) -> int:
    """Rows a statement touched, from its command status: ``UPDATE 3``, ``INSERT 0 3``."""
    count = (status or b"").rsplit(b" ", 1)[-1]
    return int(count) if count.isdigit() else returned


def _terminate(proxy) -> None:
    if getattr(proxy, "_con", None) is not None:
        proxy.terminate()
