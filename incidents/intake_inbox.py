"""The intake inbox: where intake signals go when triggers already wait past their budget, so
that every sender is still answered within moments and nothing it sent is lost.

A kept signal is one cheap insert (inserts arriving together share one, ``group_commit``),
committed before the sender is answered; a task of this process then works the inbox in
arrival order, in batches, until it is empty (``inbox_store``). A signal with the dedup key
of one still waiting (in this process's inbox, or for an acknowledge or resolve in any
process's) is kept behind it, so a sender's resolve can never overtake its trigger; the others
are answered with their incident again as soon as triggers are fast enough, while the inbox
drains beside them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from incidents import inbox_store, metrics
from incidents.group_commit import GroupCommit, writers_at_once
from incidents.inbox_store import LeaseLost, Signal
from incidents.leases import new_worker_id
from incidents.lifecycle import EngineConfig
from incidents.running_average import RunningAverage
from storage.availability import OutageLog, is_unavailable
from storage.database import database
from storage.fields import utcnow
from storage.models import ApiKey

log = logging.getLogger("ackbot.intake_inbox")

RETRY_FIRST = 0.05
RETRY_CAP = 2.0
# Before the first batch is worked there is no pace to go by: this many waiting count as long.
UNMEASURED_LONG_BACKLOG = 100


async def inbox_state() -> inbox_store.InboxState:
    """What every process's inbox holds (for operators: ``ackbot inbox status``)."""
    return await database.run(inbox_store.state)


async def retry_failed(ids: list[int], clock: Callable[[], datetime] = utcnow) -> int:
    """Work the failed signals ``ids`` (every failed one when empty) again: a running process's
    dispatcher takes them over. How many."""
    return await database.run(inbox_store.retry_failed, ids, clock())


class IntakeInbox:
    """``config`` and ``clock`` give the engine's configuration and the time when a batch is
    worked; ``on_worked`` is called after each batch (pages may have been queued)."""

    def __init__(
        self, config: Callable[[], EngineConfig], clock: Callable[[], datetime], on_worked: Callable[[], None],
        batch_size: int = 50, worker_id: str | None = None,
    ):
        self.config = config
        self.clock = clock
        self.on_worked = on_worked
        self.batch_size = batch_size
        self.worker_id = worker_id or new_worker_id()
        self._keeping: GroupCommit[tuple[Signal, ApiKey | None], None] = GroupCommit(
            self._keep_batch, limit=500, postgres_writers=1,  # one insert a batch; the connections go to the work
        )
        self._keeping_now = 0
        self._kept = 0  # signals kept so far: the worker looks again when this moved while it looked
        self._worked = 0  # of those (and those taken over), worked so far
        self._worker: asyncio.Task | None = None
        self._renew_at = 0.0
        self._seconds_a_signal = RunningAverage()
        self._outage = OutageLog(log, "intake inbox")

    @property
    def active(self) -> bool:
        """Whether this process has signals kept (or being kept) and not yet worked: its worker
        runs until it finds none left."""
        return self._keeping_now > 0 or (self._worker is not None and not self._worker.done())

    @property
    def backlog(self) -> int:
        """About how many signals this process has kept and not yet worked."""
        return max(0, self._kept - self._worked) + self._keeping_now

    def outlasts(self, seconds: float) -> bool:
        """Whether working the backlog would take ``seconds`` or more, at the pace recent batches
        were worked (before any was: whether it holds ``UNMEASURED_LONG_BACKLOG`` or more)."""
        pace = self._seconds_a_signal.value
        if pace is None:
            return self.backlog >= UNMEASURED_LONG_BACKLOG
        return self.backlog * pace >= seconds

    async def keep(self, signal: Signal, key: ApiKey | None) -> None:
        """Keep ``signal``; returns once it is committed. Raises what the database raised."""
        self._keeping_now += 1
        try:
            await self._keeping.submit((signal, key))
        finally:
            self._keeping_now -= 1
        self._kept += 1
        metrics.INTAKE_KEPT.inc()
        self._start()

    async def keep_behind(self, signal: Signal, key: ApiKey | None) -> bool:
        """Keep ``signal`` behind a signal with its dedup key still waiting in any process's
        inbox (``inbox_store.keep_behind``); False when none waits."""
        owner = await database.run(inbox_store.keep_behind, signal, key, self.clock())
        if owner is not None:
            metrics.INTAKE_KEPT.inc()
        if owner == self.worker_id:
            self._kept += 1
            self._start()
        return owner is not None

    async def take_over(self) -> int:
        """Take over the signals of processes whose lease ran out, and work them."""
        count = await database.run(inbox_store.take_over, self.worker_id, self.config().lease, self.clock())
        if count:
            log.info("took over %d intake signal(s) kept by a process that stopped", count)
            self._kept += count
            self._start()
        return count

    async def stop(self) -> None:
        """Stop working; what is left is handed over to the other processes (or the next start)."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._kept > self._worked:  # some were left (or the worker stopped on an error)
            await database.run(inbox_store.release, self.worker_id, self.clock())

    def _start(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())

    async def _keep_batch(self, batch: list[tuple[Signal, ApiKey | None]]) -> list[None]:
        return await database.run(inbox_store.keep, batch, self.worker_id, self.config().lease, self.clock())

    async def _work(self) -> None:
        delay = RETRY_FIRST
        while True:
            kept_before = self._kept
            try:
                started = time.monotonic()
                rows = await self._claim()
                if rows:
                    await self._work_shares(rows)
                    self._worked += len(rows)
                    self._paced(time.monotonic() - started, len(rows))
                    self.on_worked()
                self._outage.available()
                delay = RETRY_FIRST
            except LeaseLost:
                log.warning("intake signals this process held were taken over by another; it leaves them")
                continue
            except Exception as error:
                if not is_unavailable(error):
                    log.exception("the intake inbox stopped; its signals are taken over once their lease ends")
                    return
                self._outage.unavailable(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)
                continue
            if not rows and self._kept == kept_before:
                self._worked = self._kept
                return

    def _paced(self, seconds: float, signals: int) -> None:
        self._seconds_a_signal.add(seconds / signals)

    async def _work_shares(self, rows) -> None:
        """Work ``rows`` in shares at once, as many as there may be write transactions in flight
        (``GroupCommit``'s reasoning: one on SQLite; on PostgreSQL round trips are the wait)."""
        config, now = self.config(), self.clock()
        done = await asyncio.gather(
            *(database.run(inbox_store.work, share, self.worker_id, config, now)
              for share in inbox_store.shares(rows, writers_at_once())),
            return_exceptions=True,
        )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _claim(self):
        lease = self.config().lease
        renew = time.monotonic() >= self._renew_at
        limit = self.batch_size * writers_at_once()
        rows = await database.run(inbox_store.claim_own, self.worker_id, limit, lease, self.clock(), renew)
        if renew:
            self._renew_at = time.monotonic() + lease.total_seconds() / 3
        return rows
