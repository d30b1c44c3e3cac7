"""Claiming outbox rows with a lease, for every outbox table (NotificationLog, TeamPost).

An outbox row has ``status``, ``attempt_count``, ``next_attempt_at``, ``last_attempt_at``,
``lease_expires_at`` and ``claimed_by``. Synchronous; call inside a ``write_transaction``.
Guarantees: a row is claimed by one worker at a time (PostgreSQL: FOR UPDATE SKIP LOCKED;
SQLite: the IMMEDIATE write transaction), marked SENDING with a lease and its attempt counted at
claim, so an attempt cut short by a crash still counts; a row whose lease expired (its worker
died) is due again; a result is recorded only by the worker that holds the claim.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from incidents.lifecycle import EngineConfig
from storage.bulk import update_each
from storage.database import database, lock_rows_sql
from storage.enums import DeliveryStatus


def new_worker_id() -> str:
    """A name for one process's claims, unique among every process sharing the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def abandoned(model, config: EngineConfig, limit: int, now: datetime, *columns) -> tuple[list[tuple], list]:
    """Up to ``limit`` rows abandoned by a worker that died, oldest lease first, locked:
    ``(to claim again, as tuples of the id and columns; rows that have used every attempt,
    whole: the caller fails them)``. One statement when none has used every attempt."""
    rows = _select_locked(model, (model.id, model.attempt_count, *columns), "lease_expires_at", DeliveryStatus.SENDING, limit, now)
    spent = [row_id for row_id, attempts, *_ in rows if attempts >= config.max_attempts]
    again = [(row_id, *rest) for row_id, attempts, *rest in rows if attempts < config.max_attempts]
    return again, list(model.select().where(model.id.in_(spent))) if spent else []


def _due_sql(model, columns, order: str) -> str:
    """Rows in ``status`` whose ``order`` column is at or before a time, read in that column's
    index order and stopped at the limit (so a backlog is never sorted), locked, skipping rows
    another worker holds. Hand-written: every claim runs these, and peewee's builder took longer
    than the statements. Parameters: status, time, limit."""
    wanted = ", ".join(f'"{column.column_name}"' for column in columns)
    p = database.param
    return (f'SELECT {wanted} FROM "{model._meta.table_name}" WHERE "status" = {p} AND "{order}" <= {p}'
            f' ORDER BY "{order}" LIMIT {p}{lock_rows_sql(skip_locked=True)}')


def _select_locked(model, columns, order: str, status: DeliveryStatus, limit: int, now: datetime) -> list[tuple]:
    """``_due_sql``'s rows, as tuples of the values the database gives (ids, counts and text)."""
    sql = _due_sql(model, columns, order)
    params = [status.value, getattr(model, order).db_value(now), limit]
    return [tuple(row) for row in database.execute_sql(sql, params).fetchall()]


def queued(model, limit: int, now: datetime, *columns) -> list[tuple]:
    """Up to ``limit`` rows waiting for their next attempt, oldest first, locked, as tuples of
    ``columns`` (ids and text), for a caller that chooses among them."""
    return _select_locked(model, columns, "next_attempt_at", DeliveryStatus.QUEUED, limit, now)


def _claim_values(model, worker_id: str, config: EngineConfig, now: datetime) -> dict:
    return dict(
        status=DeliveryStatus.SENDING, claimed_by=worker_id, lease_expires_at=now + config.lease,
        attempt_count=model.attempt_count + 1, last_attempt_at=now,
    )


def claim(model, ids: list[int], worker_id: str, config: EngineConfig, now: datetime) -> None:
    """Mark rows ``ids`` (locked by the caller) SENDING for ``worker_id`` and count the attempt."""
    model.update(**_claim_values(model, worker_id, config, now)).where(model.id.in_(ids)).execute()


def claim_queued(model, limit: int, worker_id: str, config: EngineConfig, now: datetime) -> list[int]:
    """Claim up to ``limit`` rows waiting for their next attempt, oldest first, as ``claim``
    does, in one statement (hand-written, as ``_due_sql``); returns their ids."""
    table, p, at = model._meta.table_name, database.param, model.last_attempt_at.db_value
    due = _due_sql(model, (model.id,), "next_attempt_at")
    claimed = database.execute_sql(
        f'UPDATE "{table}" SET "status" = {p}, "attempt_count" = "attempt_count" + 1, "last_attempt_at" = {p},'
        f' "lease_expires_at" = {p}, "claimed_by" = {p} WHERE "id" IN ({due}) RETURNING "id"',
        [DeliveryStatus.SENDING.value, at(now), at(now + config.lease), worker_id,
         DeliveryStatus.QUEUED.value, at(now), limit],
    )
    return [row_id for (row_id,) in claimed.fetchall()]


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
