"""The outbox worker: claim due notifications (pages to people, posts to team channels) → send
→ record → let escalation move on.

One ``Dispatcher`` runs in every ``ackbot serve`` process (and alone in ``ackbot worker``). New
work queued in the same process wakes it at once; work queued by other processes is found
within ``poll_interval``. Several dispatchers may share one database: the outbox hands each row
to one of them at a time.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from channels.base import backoff_delay, redact
from channels.payloads import build_payload
from channels.types import Channel, ChannelDeliveryResult, NotificationChannel
from incidents import metrics
from incidents.leases import new_worker_id
from incidents.outbox import Delivery, DeliveryOutcome, TeamPostDelivery
from incidents.service import IncidentService
from storage.availability import OutageLog, is_unavailable

log = logging.getLogger("ackbot.dispatcher")

# Waits between attempts to record a batch's results while the database is unavailable.
RECORD_RETRY_FIRST = 0.05
RECORD_RETRY_CAP = 1.0


@dataclass(frozen=True)
class DispatcherConfig:
    batch_size: int = 50
    poll_interval: float = 2.0
    send_timeout: float = 10.0
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    shutdown_grace: float = 10.0
    # Longest wait, while a backlog drains, of the checks before a claim (heartbeats, escalation,
    # hand-offs) that last found nothing to do.
    drain_check_interval: float = 1.0
    public_url: str = "http://127.0.0.1:8080"


class Dispatcher:
    def __init__(
        self,
        service: IncidentService,
        channels: Mapping[Channel, NotificationChannel],
        config: DispatcherConfig = DispatcherConfig(),
        worker_id: str | None = None,
        random_source: Callable[[], float] = random.random,
    ):
        self.service = service
        self.channels = dict(channels)
        self.config = config
        self.worker_id = worker_id or new_worker_id()
        self._random = random_source
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: list[Delivery | TeamPostDelivery] = []
        self._next: list[Delivery | TeamPostDelivery] = []
        self._next_lease_ends = 0.0
        self._outage = OutageLog(log, "dispatcher")
        self._next_checks = 0.0
        self._checks_busy = False

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    async def run_once(self, draining: bool = False) -> int:
        """Open incidents for silent heartbeats, take due escalation steps, queue due hand-off
        notices, take over intake signals a stopped process kept, then claim and send one batch;
        returns rows handled. While ``draining`` (the batch before was full), checks that last
        found nothing wait ``drain_check_interval``: a backlog drains without more statements a
        batch, and a check that finds work is run again before every batch until it finds none."""
        if not draining or self._checks_busy or time.monotonic() >= self._next_checks:
            self._checks_busy = bool(
                await self.service.check_heartbeats() + await self.service.escalate_due()
                + await self.service.announce_handoffs() + await self.service.take_over_intake()
            )
            self._next_checks = time.monotonic() + self.config.drain_check_interval
        if self._next:  # claimed with the last batch's results
            deliveries, lease_ends, self._next = self._next, self._next_lease_ends, []
        else:
            lease_ends = time.monotonic() + self.service.config.lease.total_seconds()  # at the latest
            deliveries = await self.service.claim_due_notifications(self.worker_id, self.config.batch_size)
            self._outage.available()
        if not deliveries:
            return 0
        # Cleared only once recorded: a batch cut short (cancelled at shutdown) is what ``stop``
        # hands back to the queue.
        self._in_flight = deliveries
        outcomes = await asyncio.gather(*(self._attempt(delivery) for delivery in deliveries))
        full = len(deliveries) >= self.config.batch_size and not self._stopping
        statuses = await self._record(list(zip(deliveries, outcomes, strict=True)), lease_ends, claim_next=full)
        self._in_flight = self._next
        lost = [delivery.label for delivery, status in zip(deliveries, statuses, strict=True) if status is None]
        if lost:
            log.warning("claims lost before results were recorded: %s", ", ".join(lost))
        return len(deliveries)

    async def _record(self, results: list, lease_ends: float, claim_next: bool) -> list:
        """Record a sent batch's results, and with ``claim_next`` claim the next batch in the
        same transaction (kept in ``_next`` for the next ``run_once``). While the database is
        unavailable the results are kept and recording (alone) is tried again, with backoff, for
        as long as the lease keeps the rows ours: an outage shorter than the lease sends nothing
        twice. After that the rows may be claimed again (and sent again: the crash bound), so the
        results are no longer ours to record."""
        delay = RECORD_RETRY_FIRST
        while True:
            try:
                if claim_next:
                    self._next_lease_ends = time.monotonic() + self.service.config.lease.total_seconds()
                    statuses, self._next = await self.service.record_and_claim(
                        self.worker_id, results, self.config.batch_size
                    )
                else:
                    statuses = await self.service.record_outcomes(self.worker_id, results)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                claim_next = False
                self._outage.unavailable(error)
                remaining = lease_ends - time.monotonic()
                if remaining <= 0:
                    log.warning("the lease on %d sent notification(s) ran out before their results could be"
                                " recorded; they will be sent again", len(results))
                    return [None] * len(results)
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, RECORD_RETRY_CAP)
            else:
                self._outage.available()
                return statuses

    async def run(self) -> None:
        """Work until ``stop``; a batch that filled up is followed at once by the next. While
        the database is unavailable it says so once, tries again every poll interval, and says
        when it is back."""
        handled = 0
        while not self._stopping:
            try:
                handled = await self.run_once(draining=handled >= self.config.batch_size)
            except Exception as error:
                if is_unavailable(error):
                    self._outage.unavailable(error)
                else:
                    log.exception("dispatcher batch failed; retrying after the poll interval")
                handled = 0
            if handled < self.config.batch_size and not self._stopping:
                await self._idle()

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
        except TimeoutError:
            pass
        self._wake.clear()

    async def stop(self, task: asyncio.Task) -> None:
        """Stop claiming; let the batch in flight finish within the grace period, else cancel
        it and hand its rows back to the queue."""
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.config.shutdown_grace)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._in_flight:
            try:
                released = await self.service.release_claims(self.worker_id, self._in_flight)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                log.warning("could not hand %d unfinished notification(s) back (the database is unavailable);"
                            " they are claimed again when their lease runs out", len(self._in_flight))
                return
            log.info("released %d unfinished notification(s) back to the queue", released)

    async def _attempt(self, delivery: Delivery | TeamPostDelivery) -> DeliveryOutcome:
        result = await self._send(delivery)
        if not result.success:
            error_class = "temporary" if result.temporary else "permanent"
            metrics.PROVIDER_ERRORS.labels(delivery.channel, error_class).inc()
        return self._outcome(delivery, result)

    async def _send(self, delivery: Delivery | TeamPostDelivery) -> ChannelDeliveryResult:
        channel = self.channels.get(delivery.channel)
        if channel is None:
            return ChannelDeliveryResult.permanent_failure(f"the {delivery.channel.lower()} channel is not configured")
        try:
            payload = build_payload(delivery, self.config.public_url)
            # A timeout on this task, not wait_for's: that ran each send in a task of its own.
            async with asyncio.timeout(self.config.send_timeout):
                return await channel.send(payload)
        except TimeoutError:
            return ChannelDeliveryResult.temporary_failure(f"no answer within {self.config.send_timeout:g}s")
        except Exception as error:  # a channel must not raise; if one does, fail the row, not the batch
            log.exception("channel %s raised instead of returning a result", delivery.channel)
            return ChannelDeliveryResult.permanent_failure(redact(f"{type(error).__name__}: {error}"))

    def _outcome(self, delivery: Delivery | TeamPostDelivery, result: ChannelDeliveryResult) -> DeliveryOutcome:
        retry_at = None
        if not result.success and result.temporary:
            delay = backoff_delay(
                delivery.attempt, base=self.config.backoff_base, cap=self.config.backoff_cap,
                retry_after=result.retry_after, random=self._random,
            )
            retry_at = self.service.clock() + timedelta(seconds=delay)
        return DeliveryOutcome(
            success=result.success, provider_id=result.provider_id, error=result.error,
            delivered_at=result.delivered_at,
            message_reference=dict(result.message_reference) if result.message_reference else None,
            retry_at=retry_at, gone_endpoints=tuple(result.gone_endpoints),
        )
