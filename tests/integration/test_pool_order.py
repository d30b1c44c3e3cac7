"""Both databases' pools hand connections out in the order tasks asked for them: a connection
given back goes to the longest waiter, never to a task that asked later (``storage.pool_slots``);
and a task that waits too long gets peewee's timeout, owing nothing."""
from __future__ import annotations

import asyncio

import pytest
from peewee import OperationalError

from storage.database import make_database

POOL_SIZE = 3


@pytest.fixture
async def db(database_url):
    opened = make_database(database_url, pool_size=POOL_SIZE)
    yield opened
    await opened.close_pool()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_connection_given_back_goes_to_the_longest_waiter_not_a_newcomer(db):
    held = [await db._acquire_conn_async() for _ in range(POOL_SIZE)]
    served: list[str] = []
    tasks: list[asyncio.Future] = []

    async def ask(name: str):
        conn = await db._acquire_conn_async()
        served.append(name)
        return conn

    for name in ("first", "second", "third"):
        tasks.append(asyncio.ensure_future(ask(name)))
        await _settle()

    async def arrivals() -> None:
        """New requests, one each turn of the loop, while a connection is being handed back."""
        for number in range(1, 11):
            tasks.append(asyncio.ensure_future(ask(f"newcomer {number}")))
            await asyncio.sleep(0)

    arriving = asyncio.ensure_future(arrivals())
    await asyncio.sleep(0)  # the first newcomer's task is queued to run: it asks next
    await db._release_conn(held.pop())
    await arriving
    await _settle()
    assert served == ["first"]

    while len(served) < len(tasks):  # each connection given back goes to the next in line
        await db._release_conn(held.pop() if held else await tasks[len(served) - POOL_SIZE])
        await _settle()
    assert served == ["first", "second", "third", *(f"newcomer {number}" for number in range(1, 11))]
    for task in tasks[-POOL_SIZE:]:
        await db._release_conn(await task)
    assert await db.run(lambda: db.execute_sql("SELECT 1").fetchone()) == (1,)


async def test_a_task_that_waits_too_long_gets_peewees_timeout_and_owes_nothing(db):
    db._acquire_timeout = 0.05
    held = [await db._acquire_conn_async() for _ in range(POOL_SIZE)]
    with pytest.raises(OperationalError, match="Timed out acquiring connection"):
        await db._acquire_conn_async()
    for conn in held:
        await db._release_conn(conn)
    # Every connection is free again: as many tasks as the pool holds get one at once.
    again = await asyncio.wait_for(asyncio.gather(*(db._acquire_conn_async() for _ in range(POOL_SIZE))), 1)
    for conn in again:
        await db._release_conn(conn)


@pytest.mark.postgres
async def test_a_postgres_connection_given_back_twice_frees_one_place(postgres_url):
    """A lost connection may be handed back twice (``forget_connection``, then the run's end);
    SQLite's pool is only ever given back what it lent."""
    db = make_database(postgres_url, pool_size=POOL_SIZE)
    try:
        await _given_back_twice(db)
    finally:
        await db.close_pool()


async def _given_back_twice(db) -> None:
    conn = await db._acquire_conn_async()
    await db._release_conn(conn)
    await db._release_conn(conn)
    held = [await db._acquire_conn_async() for _ in range(POOL_SIZE)]
    db._acquire_timeout = 0.05
    with pytest.raises(OperationalError, match="Timed out acquiring connection"):
        await db._acquire_conn_async()
    for other in held:
        await db._release_conn(other)
