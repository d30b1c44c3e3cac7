"""Claiming outbox rows with a lease, for every outbox table (NotificationLog, TeamPost).

An outbox row has ``status``, ``attempt_count``, ``next_attempt_at``, ``last_attempt_at``,
``lease_expires_at`` and ``claimed_by``. Synchronous; call inside a ``write_transaction``.
Guarantees: a row is claimed by one worker at a time (PostgreSQL: FOR UPDATE SKIP LOCKED;
SQLite: the IMMEDIATE write transaction), marked SENDING with a lease and its attempt counted at
claim, so an attempt cut short by a crash still counts; a row whose lease expired (its worker
died) is due again; a result is recorded only by the worker that holds the claim.
"""
from __future__ import annotations

from datetime import datetime

from incidents.lifecycle import EngineConfig
from storage.bulk import update_each
from storage.database import lock_rows
from storage.enums import DeliveryStatus


def _abandoned(model, now: datetime):
    return (model.status == DeliveryStatus.SENDING) & (model.lease_expires_at <= now)


def exhausted_leases(model, config: EngineConfig, now: datetime) -> list:
    """Abandoned rows that have used every attempt: the caller fails them."""
    return list(lock_rows(
        model.select().where(_abandoned(model, now) & (model.attempt_count >= config.max_attempts)),
        skip_locked=True,
    ))


def claim(model, ids: list[int], worker_id: str, config: EngineConfig, now: datetime) -> None:
    """Mark rows ``ids`` (locked by the caller) SENDING for ``worker_id`` and count the attempt."""
    model.update(
        status=DeliveryStatus.SENDING, claimed_by=worker_id, lease_expires_at=now + config.lease,
        attempt_count=model.attempt_count + 1, last_attempt_at=now,
    ).where(model.id.in_(ids)).execute()


def due_candidates(model, limit: int, now: datetime, *columns) -> list[tuple]:
    """Up to ``limit`` due rows (tuples of their ``columns``, by default the id), locked for
    claiming: rows abandoned by a worker that died first, then rows waiting for their next
    attempt, oldest first.

    Two statements, each read in its index's order and stopped at ``limit``: one statement
    with an OR of both had to collect and sort every due row to take the first ``limit`` (with
    a backlog, the whole backlog at every claim)."""
    selected = columns or (model.id,)
    abandoned = model.select(*selected).where(_abandoned(model, now)).order_by(model.lease_expires_at)
    rows = list(lock_rows(abandoned.limit(limit), skip_locked=True).tuples())
    if len(rows) < limit:
        queued = model.select(*selected).where(
            (model.status == DeliveryStatus.QUEUED) & (model.next_attempt_at <= now)
        ).order_by(model.next_attempt_at)
        rows.extend(lock_rows(queued.limit(limit - len(rows)), skip_locked=True).tuples())
    return rows


def result_changes(model, attempt: int, outcome, config: EngineConfig, now: datetime) -> tuple[DeliveryStatus, dict]:
    """The status and column changes that record a send's ``outcome`` (an outbox
    ``DeliveryOutcome``) on the row whose ``attempt``-th try it was."""
    if outcome.success:
        status = DeliveryStatus.DELIVERED if outcome.delivered_at else DeliveryStatus.SENT
        changes = {
            model.provider_id: outcome.provider_id, model.sent_at: now,
            model.delivered_at: outcome.delivered_at, model.error: None,
        }
        if outcome.message_reference:
            changes[model.message_reference] = outcome.message_reference
    elif outcome.retry_at is not None and attempt < config.max_attempts:
        status = DeliveryStatus.QUEUED
        changes = {model.next_attempt_at: outcome.retry_at, model.error: outcome.error}
    else:
        status = DeliveryStatus.FAILED
        suffix = f" (after {attempt} attempts)" if outcome.retry_at is not None else ""
        changes = {model.error: f"{outcome.error}{suffix}"}
    return status, changes


def record_if_held(model, row_id: int, worker_id: str, status: DeliveryStatus, changes: dict) -> bool:
    """Apply ``status`` and ``changes`` and release the claim, if ``worker_id`` still holds it."""
    held = (model.id == row_id) & (model.status == DeliveryStatus.SENDING) & (model.claimed_by == worker_id)
    released = {model.lease_expires_at: None, model.claimed_by: None}
    return model.update({model.status: status, **changes, **released}).where(held).execute() == 1


def record_all_held(model, worker_id: str, results: list[tuple[int, DeliveryStatus, dict]]) -> set[int]:
    """``record_if_held`` for many rows at once, each ``(row id, status, changes)``: one statement
    per set of changed columns (a batch of sends that all succeeded is one). Returns the ids of
    the rows ``worker_id`` still held, and so recorded."""
    groups: dict[tuple, list] = {}
    for row_id, status, changes in results:
        groups.setdefault((model.status, *changes), []).append((row_id, status, *changes.values()))
    released = {model.lease_expires_at: None, model.claimed_by: None}
    held = {model.status: DeliveryStatus.SENDING, model.claimed_by: worker_id}
    recorded: set[int] = set()
    for columns, rows in groups.items():
        recorded |= update_each(model, columns, rows, released, held)
    return recorded


def release(model, worker_id: str, ids: list[int], now: datetime) -> int:
    """Hand rows this worker claimed but will not finish back to the queue."""
    return model.update(
        status=DeliveryStatus.QUEUED, lease_expires_at=None, claimed_by=None, next_attempt_at=now
    ).where(
        model.id.in_(ids) & (model.status == DeliveryStatus.SENDING) & (model.claimed_by == worker_id)
    ).execute()


def give_up(model, row_id: int, error: str) -> None:
    model.update(status=DeliveryStatus.FAILED, error=error, lease_expires_at=None, claimed_by=None).where(
        model.id == row_id
    ).execute()


def gave_up_message(attempts: int) -> str:
    return f"gave up after {attempts} attempts (the last one never reported back)"
