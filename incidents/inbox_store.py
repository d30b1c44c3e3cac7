"""The intake inbox's rows (``storage.models.IntakeSignal``): kept, claimed and worked.

Synchronous; run through ``database.run``. Guarantees: a signal is worked once, in the same
transaction that removes its row (a crash before that commit leaves the row to be worked again,
nothing half done); a process works its own rows in the order they were kept; rows whose lease
ran out (their process died or stopped) are taken over by another; a signal that fails alone
is kept, marked failed with its error, and no longer holds up the ones behind it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents import lifecycle, metrics
from incidents.intake import TriggerRequest, stored
from incidents.lifecycle import Actor, EngineConfig, transition_open
from storage.availability import is_unavailable
from storage.bulk import insert_rows
from storage.database import lock_rows, write_transaction
from storage.enums import Action
from storage.models import ApiKey, IntakeSignal

log = logging.getLogger("ackbot.intake_inbox")

TRIGGER = "trigger"


@dataclass(frozen=True)
class ActByKey:
    """Acknowledge or resolve the open incident with ``dedup_key`` (none open: nothing to do)."""

    action: Action
    dedup_key: str
    actor: Actor


Signal = TriggerRequest | ActByKey


class LeaseLost(Exception):
    """Rows this process was working were taken over by another (its lease ran out)."""


def _row(signal: Signal, key: ApiKey | None, worker_id: str, lease_ends: datetime, now: datetime) -> dict:
    if isinstance(signal, ActByKey):
        action, payload = signal.action.value, json.dumps(
            {"dedup_key": signal.dedup_key, "name": signal.actor.name, "via": signal.actor.via}
        )
    else:
        action, payload = TRIGGER, stored.to_json(signal)
    return {
        "action": action, "payload": payload, "dedup_key": signal.dedup_key,
        "api_key_id": key.id if key is not None else None,
        "received_at": now, "claimed_by": worker_id, "lease_expires_at": lease_ends,
    }


def keep(signals: list[tuple[Signal, ApiKey | None]], worker_id: str, lease: timedelta, now: datetime) -> list[None]:
    """Keep ``signals`` (each with the key it came with), claimed by ``worker_id``: one statement."""
    with write_transaction():
        insert_rows(IntakeSignal, [_row(signal, key, worker_id, now + lease, now) for signal, key in signals])
    return [None] * len(signals)


def keep_behind(signal: Signal, key: ApiKey | None, now: datetime) -> str | None:
    """Keep ``signal`` behind the newest signal with its dedup key still waiting in some
    process's inbox, for that process to work after it; returns that process's worker id, or
    None when no signal with the key waits (``signal`` can be done now). A sender answered once
    its trigger was kept sends the next notification about it (a change, the resolve) only then,
    maybe to another instance: this keeps the two in order."""
    if signal.dedup_key is None:
        return None
    if not IntakeSignal.select(IntakeSignal.id).where(_waiting_with(signal.dedup_key)).exists():
        return None  # the usual answer, without taking the write lock
    with write_transaction():
        # Locked, so its process cannot remove it, find nothing behind it and stop, until this commits.
        waiting = lock_rows(
            IntakeSignal.select(IntakeSignal.claimed_by, IntakeSignal.lease_expires_at)
            .where(_waiting_with(signal.dedup_key)).order_by(IntakeSignal.id.desc()).limit(1)
        ).first()
        if waiting is None:
            return None
        insert_rows(IntakeSignal, [_row(signal, key, waiting.claimed_by, waiting.lease_expires_at, now)])
        return waiting.claimed_by


def _waiting_with(dedup_key: str):
    return (IntakeSignal.dedup_key == dedup_key) & _workable()


def waiting() -> int:
    """Signals kept and not yet worked, in every process's inbox."""
    return IntakeSignal.select().where(_workable()).count()


@dataclass(frozen=True)
class InboxState:
    """What the inbox holds: how many signals wait (and when the oldest was kept), how many could
    not be worked, and the first ``FAILED_SHOWN`` of those, oldest first."""

    waiting: int
    oldest_kept_at: datetime | None
    failed_count: int
    failed: list[IntakeSignal]


FAILED_SHOWN = 50


def state() -> InboxState:
    oldest = IntakeSignal.select(IntakeSignal.received_at).where(_workable()).order_by(IntakeSignal.id).first()
    failed = IntakeSignal.select().where(IntakeSignal.failed_at.is_null(False))
    return InboxState(
        waiting(), oldest.received_at if oldest else None, failed.count(), list(failed.order_by(IntakeSignal.id).limit(FAILED_SHOWN)),
    )


def retry_failed(ids: list[int], now: datetime) -> int:
    """Make the failed signals ``ids`` (every failed one when empty) workable again, their lease
    over: the next process to look takes them over. How many."""
    chosen = IntakeSignal.failed_at.is_null(False)
    if ids:
        chosen &= IntakeSignal.id.in_(ids)
    with write_transaction():
        return IntakeSignal.update(failed_at=None, error=None, lease_expires_at=now).where(chosen).execute()


def _workable():
    return IntakeSignal.failed_at.is_null()


def claim_own(worker_id: str, limit: int, lease: timedelta, now: datetime, renew: bool) -> list[IntakeSignal]:
    """The first ``limit`` rows ``worker_id`` works, in the order they were kept; with ``renew``
    the lease on every row it holds is extended first."""
    if renew:
        with write_transaction():
            IntakeSignal.update(lease_expires_at=now + lease).where(
                (IntakeSignal.claimed_by == worker_id) & _workable()
            ).execute()
    return list(
        IntakeSignal.select().where((IntakeSignal.claimed_by == worker_id) & _workable())
        .order_by(IntakeSignal.id).limit(limit)
    )


def take_over(worker_id: str, lease: timedelta, now: datetime) -> int:
    """Claim for ``worker_id`` every row whose lease ran out; how many."""
    abandoned = (IntakeSignal.lease_expires_at <= now) & _workable()
    if not IntakeSignal.select(IntakeSignal.id).where(abandoned).limit(1).exists():
        return 0  # the usual answer, without taking the write lock
    with write_transaction():
        return IntakeSignal.update(claimed_by=worker_id, lease_expires_at=now + lease).where(abandoned).execute()


def release(worker_id: str, now: datetime) -> int:
    """End the lease on every row ``worker_id`` holds, for another process to take over now."""
    with write_transaction():
        return IntakeSignal.update(lease_expires_at=now).where(
            (IntakeSignal.claimed_by == worker_id) & _workable()
        ).execute()


def work(rows: list[IntakeSignal], worker_id: str, config: EngineConfig, now: datetime) -> None:
    """Work ``rows`` in order: each run of triggers in one transaction, each act in its own, each
    removing its rows as it commits. A run that fails is worked again row by row; a row that
    fails alone is marked failed. Raises the error when the database is unavailable (the rows
    not yet worked stay kept) and ``LeaseLost`` when another process took them over."""
    wanted = {row.api_key_id for row in rows} - {None}
    keys: dict[int | None, ApiKey] = {key.id: key for key in ApiKey.select().where(ApiKey.id.in_(wanted))} if wanted else {}
    for run in _runs(rows):
        try:
            _work_run(run, keys, worker_id, config, now)
        except Exception as error:
            _raise_if_not_the_rows(error)
            for row in run:
                _work_alone(row, keys, worker_id, config, now)


def _work_alone(row: IntakeSignal, keys: dict[int | None, ApiKey], worker_id: str, config: EngineConfig, now: datetime) -> None:
    try:
        _work_run([row], keys, worker_id, config, now)
    except Exception as error:
        _raise_if_not_the_rows(error)
        _mark_failed(row, worker_id, error, now)


def _raise_if_not_the_rows(error: Exception) -> None:
    """Raise what is no fault of the rows being worked (the database, a lost lease) again."""
    if is_unavailable(error) or isinstance(error, LeaseLost):
        raise error


def shares(rows: list[IntakeSignal], count: int) -> list[list[IntakeSignal]]:
    """``rows`` dealt into at most ``count`` shares that can be worked at once: every row with a
    dedup key in the same share as the others with that key, in order (a signal without one
    goes with nothing in particular)."""
    dealt: list[list[IntakeSignal]] = [[] for _ in range(count)]
    for row in rows:
        dealt[hash(row.dedup_key) % count if row.dedup_key is not None else row.id % count].append(row)
    return [share for share in dealt if share]


def _runs(rows: list[IntakeSignal]) -> list[list[IntakeSignal]]:
    """``rows`` cut into runs: consecutive triggers together, every act alone."""
    runs: list[list[IntakeSignal]] = []
    for row in rows:
        if row.action == TRIGGER and runs and runs[-1][-1].action == TRIGGER:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _work_run(run: list[IntakeSignal], keys: dict[int | None, ApiKey], worker_id: str, config: EngineConfig, now: datetime) -> None:
    ids = [row.id for row in run]
    if run[0].action == TRIGGER:
        requests = [(stored.from_json(row.payload), keys.get(row.api_key_id)) for row in run]
        lifecycle.trigger_together(requests, config, now, inside=lambda: _remove(ids, worker_id))
        return
    act = json.loads(run[0].payload)
    with write_transaction():
        _remove(ids, worker_id)
        transition_open(act["dedup_key"], Action(run[0].action), Actor(act["name"], act["via"]), config, now)


def _remove(ids: list[int], worker_id: str) -> None:
    removed = IntakeSignal.delete().where(IntakeSignal.id.in_(ids) & (IntakeSignal.claimed_by == worker_id)).execute()
    if removed != len(ids):
        raise LeaseLost()


def _mark_failed(row: IntakeSignal, worker_id: str, error: Exception, now: datetime) -> None:
    log.error("intake signal %d (%s) could not be worked; it is kept, marked failed: %s",
              row.id, row.action, type(error).__name__)
    metrics.INTAKE_FAILED.inc()
    with write_transaction():
        IntakeSignal.update(failed_at=now, error=f"{type(error).__name__}: {error}"[:2000]).where(
            (IntakeSignal.id == row.id) & (IntakeSignal.claimed_by == worker_id)
        ).execute()
