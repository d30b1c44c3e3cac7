"""SQLite's pool hands a free connection over at once, but never one a waiting task is owed."""
from __future__ import annotations

import asyncio

import pytest
from peewee import OperationalError

from storage.database import make_database


async def test_a_connection_released_to_a_waiting_task_is_theirs(tmp_path):
    db = make_database(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1)
    try:
        held = await db._acquire_conn_async()
        waiting = asyncio.ensure_future(db._acquire_conn_async())
        await asyncio.sleep(0.01)
        await db._release_conn(held)
        assert db._pool.take_free() is None  # the waiting task's turn
        assert await waiting is held
        await db._release_conn(held)
        assert db._pool.take_free() is held  # free, and nobody waits
        await db._release_conn(held)
        assert await db.run(lambda: db.execute_sql("SELECT 1").fetchone()) == (1,)
    finally:
        await db.close_pool()


async def test_a_task_that_waits_too_long_for_a_connection_gets_peewees_timeout(tmp_path):
    db = make_database(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1)
    db._acquire_timeout = 0.05
    try:
        held = await db._acquire_conn_async()
        with pytest.raises(OperationalError, match="Timed out acquiring connection"):
            await db._acquire_conn_async()
        assert db._pool._waiting == 0
        await db._release_conn(held)
        assert db._pool.take_free() is held  # the one that gave up is owed nothing
        await db._release_conn(held)
    finally:
        await db.close_pool()
