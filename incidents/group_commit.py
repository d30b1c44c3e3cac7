"""Group commit: while one write transaction is under way, the items that arrive for it wait
here, and the next transaction takes all of them (up to ``limit``). Under load they share one
turn on SQLite's write lock, one commit (one fsync) and one directory check, instead of queueing
on the lock one by one; each still gets its own answer, only once the transaction that holds it
has committed. When a shared transaction fails, each of its items is tried again alone, so that
one bad item fails only itself; when the database is unavailable, all of them get that error
(each sender is told to try again: nothing was kept).

Used for triggers (``IncidentService.trigger``) and for the intake inbox's inserts
(``incidents.intake_inbox``)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from incidents.running_average import RunningAverage
from storage.availability import is_unavailable
from storage.database import is_postgres

Item = TypeVar("Item")
Result = TypeVar("Result")

# Write transactions in flight at once on PostgreSQL (see GroupCommit).
POSTGRES_WRITERS = 4


def writers_at_once(postgres_writers: int = POSTGRES_WRITERS) -> int:
    """Write transactions worth having in flight at once: one on SQLite, ``postgres_writers``
    on PostgreSQL (see ``GroupCommit``)."""
    return postgres_writers if is_postgres() else 1


class GroupCommit(Generic[Item, Result]):
    """``run`` commits a batch of items in one transaction and returns their results in order.

    Transactions in flight at once: one on SQLite (it has one writer: a second would only wait
    for the lock, holding items that could have joined the next one); on PostgreSQL
    ``postgres_writers``, since there each statement's round trip to the server, not the lock,
    is what a transaction mostly waits on."""

    def __init__(
        self, run: Callable[[list[Item]], Awaitable[list[Result]]], limit: int = 50,
        postgres_writers: int = POSTGRES_WRITERS,
    ):
        self.run = run
        self.limit = limit
        self.postgres_writers = postgres_writers
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: set[asyncio.Task] = set()
        self._item_seconds = RunningAverage()  # what an item cost, of late

    async def submit(self, item: Item) -> Result:
        """``item``'s result, once the transaction that holds it has committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        writers = writers_at_once(self.postgres_writers)
        if len(self._draining) < writers:
            self._draining.add(asyncio.create_task(self._drain(writers)))
        return await future

    def expected_wait(self) -> float:
        """Seconds an item submitted now would wait before its transaction starts, going by what
        waits and what the last transactions cost an item."""
        return len(self._waiting) * (self._item_seconds.value or 0.0) / writers_at_once(self.postgres_writers)

    async def _drain(self, writers: int) -> None:
        try:
            while self._waiting:
                # What waits is shared out between the transactions that may be in flight.
                size = min(self.limit, -(-len(self._waiting) // writers))
                batch, self._waiting = self._waiting[:size], self._waiting[size:]
                await self._commit(batch)
        finally:
            # At once, not in a done callback: an item arriving before that would find no
            # room for a transaction of its own, and none left to take it.
            self._draining.discard(asyncio.current_task())
            if not self._draining:
                for _, future in self._waiting:  # only when cancelled, at shutdown
                    future.cancel()
                self._waiting = []

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        started = time.monotonic()
        try:
            done = await self.run([item for item, _ in batch])
        except Exception as error:
            if len(batch) > 1 and not is_unavailable(error):
                for waiting in batch:
                    await self._commit([waiting])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        self._item_seconds.add((time.monotonic() - started) / len(batch))
        for (_, future), result in zip(batch, done, strict=True):
            if not future.done():  # its request may have gone (cancelled) meanwhile
                future.set_result(result)
