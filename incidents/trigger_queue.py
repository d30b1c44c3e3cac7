"""Group commit for triggers: while one write transaction of triggers is under way, the triggers
that arrive wait here, and the next transaction takes all of them (up to ``limit``). Under load
they share one turn on SQLite's write lock, one commit (one fsync) and one directory check,
instead of queueing on the lock one by one; each still gets its own answer, only once the
transaction that holds its incident has committed. When a shared transaction fails, each of its
triggers is tried again alone, so that one bad trigger fails only itself; when the database is
unavailable, all of them get that error (each sender is told to try again: nothing was kept)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from incidents import lifecycle
from incidents.intake import TriggerRequest
from incidents.lifecycle import EngineConfig, Triggered
from storage.availability import is_unavailable
from storage.database import database, is_postgres
from storage.models import ApiKey

_Waiting = tuple[TriggerRequest, ApiKey | None, "asyncio.Future[Triggered]"]


class TriggerQueue:
    """``trigger`` is ``lifecycle.trigger`` run through ``database.run``, in a shared transaction,
    with the engine's configuration as ``config`` gives it then and the time from ``clock``.

    Transactions in flight at once: one on SQLite (it has one writer: a second would only wait
    for the lock, holding triggers that could have joined the next one); on PostgreSQL
    ``postgres_writers``, since there each statement's round trip to the server, not the lock,
    is what a transaction mostly waits on."""

    def __init__(
        self, config: Callable[[], EngineConfig], clock: Callable[[], datetime], limit: int = 50,
        postgres_writers: int = 4,
    ):
        self.config = config
        self.clock = clock
        self.limit = limit
        self.postgres_writers = postgres_writers
        self._waiting: list[_Waiting] = []
        self._draining: set[asyncio.Task] = set()

    async def trigger(self, request: TriggerRequest, key: ApiKey | None) -> Triggered:
        future: asyncio.Future[Triggered] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, key, future))
        writers = self.postgres_writers if is_postgres() else 1
        if len(self._draining) < writers:
            self._draining.add(asyncio.create_task(self._drain(writers)))
        return await future

    async def _drain(self, writers: int) -> None:
        try:
            while self._waiting:
                # What waits is shared out between the transactions that may be in flight.
                size = min(self.limit, -(-len(self._waiting) // writers))
                batch, self._waiting = self._waiting[:size], self._waiting[size:]
                await self._run(batch)
        finally:
            # At once, not in a done callback: a trigger arriving before that would find no
            # room for a transaction of its own, and none left to take it.
            self._draining.discard(asyncio.current_task())
            if not self._draining:
                for *_, future in self._waiting:  # only when cancelled, at shutdown
                    future.cancel()
                self._waiting = []

    async def _run(self, batch: list[_Waiting]) -> None:
        try:
            done = await database.run(
                lifecycle.trigger_together, [(request, key) for request, key, _ in batch], self.config(), self.clock()
            )
        except Exception as error:
            if len(batch) > 1 and not is_unavailable(error):
                for waiting in batch:
                    await self._run([waiting])
                return
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for *_, future in batch:
                future.cancel()
            raise
        for (*_, future), triggered in zip(batch, done, strict=True):
            if not future.done():  # its request may have gone (cancelled) meanwhile
                future.set_result(triggered)
