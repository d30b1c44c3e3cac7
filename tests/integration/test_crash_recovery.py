"""The outbox survives crashes and shares work safely, proved with real worker processes.

Each worker is ``tests/integration/worker_process.py``: the production Dispatcher and outbox in a
subprocess, sending EMAIL rows to an HTTP recorder served by this test process. Workers are
SIGKILLed mid-batch; the rows they had claimed must be claimed again once their lease expires,
and every row must end SENT. What may be sent twice is bounded by the rows in flight at each kill
(at most one batch per kill). Two workers at once (PostgreSQL) must never send a row twice.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from storage.database import is_postgres
from storage.enums import DeliveryStatus
from tests.fakes.recorder import Recorder
from tests.integration.worker_support import (
    BATCH_SIZE,
    UNFINISHED,
    Workers,
    check_alive,
    notification_rows,
    queue_alerts,
    status_counts,
    wait_until,
)


async def test_a_worker_killed_mid_batch_loses_nothing(storage, encryption_key, tmp_path):
    ids = await queue_alerts(60)
    started = time.monotonic()
    kill_points = (5, 25, 45)  # distinct notifications received when each worker is killed
    settings = dict(send_delay=0.2, batch_size=BATCH_SIZE, lease_seconds=1, poll_interval=0.2)

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            in_flight_at_kills = []
            for round_number, kill_point in enumerate(kill_points, start=1):
                worker = workers.start(f"victim-{round_number}", **settings)

                def reached(worker=worker, kill_point=kill_point):
                    check_alive(workers, worker)
                    return len(set(recorder.notification_ids())) >= kill_point

                await wait_until(reached, 20, f"{kill_point} distinct sends before kill {round_number}")
                workers.kill(worker)
                counts = await status_counts()
                in_flight_at_kills.append(counts[DeliveryStatus.SENDING])
                assert len(set(recorder.notification_ids())) < len(ids), "the kill came too late to matter"

            survivor = workers.start("survivor", **settings)

            async def finished():
                check_alive(workers, survivor)
                counts = await status_counts()
                return not any(counts[status] for status in UNFINISHED)

            await wait_until(finished, 60, "every row to leave QUEUED and SENDING", interval=0.1)
            await workers.stop(survivor)

        rows = await notification_rows()
        received = recorder.notification_ids()

    by_id = Counter(received)
    duplicates = len(received) - len(by_id)
    kills = len(kill_points)
    print(
        f"\n[{'postgres' if is_postgres() else 'sqlite'}] {len(ids)} rows, {kills} kills, "
        f"SENDING rows left by each kill: {in_flight_at_kills}, sends: {len(received)}, "
        f"duplicates: {duplicates} (bound {kills * BATCH_SIZE}), "
        f"max attempts: {max(row.attempt_count for row in rows)}, {time.monotonic() - started:.1f}s"
    )

    assert [row.status for row in rows] == [DeliveryStatus.SENT] * len(ids)
    assert all(row.attempt_count >= 1 and row.provider_id and row.sent_at for row in rows)
    assert not any(row.claimed_by or row.lease_expires_at for row in rows)
    assert set(by_id) == set(ids), "every notification reached the provider"
    assert duplicates <= kills * BATCH_SIZE
    # The kills really did cut batches short: their rows were claimed again after the lease.
    assert sum(in_flight_at_kills) > 0
    assert any(row.attempt_count >= 2 for row in rows)


async def test_two_workers_never_send_the_same_row_twice(storage, encryption_key, tmp_path):
    if not is_postgres():
        pytest.skip("SQLite has one writer; concurrent workers sharing rows is a PostgreSQL deployment")
    ids = await queue_alerts(100)
    started = time.monotonic()
    gate = tmp_path / "go"
    # A long lease: no worker is killed here, so a row must never be claimed twice.
    settings = dict(send_delay=0.1, batch_size=BATCH_SIZE, lease_seconds=60, poll_interval=0.2, start_gate=gate)

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            ready = {label: tmp_path / f"{label}.ready" for label in ("one", "two")}
            processes = [
                workers.start(label, ready_file=ready_file, **settings) for label, ready_file in ready.items()
            ]

            def both_ready():
                for process in processes:
                    check_alive(workers, process)
                return all(path.exists() for path in ready.values())

            await wait_until(both_ready, 20, "both workers to connect")
            gate.touch()

            async def finished():
                for process in processes:
                    check_alive(workers, process)
                counts = await status_counts()
                return counts[DeliveryStatus.SENT] == len(ids)

            await wait_until(finished, 30, "every row to be SENT", interval=0.05)
            for process in processes:  # a graceful stop, too: SIGTERM exits 0
                await workers.stop(process)

        rows = await notification_rows()
        received = list(recorder.received)

    by_id = Counter(body["notification_id"] for body in received)
    by_worker = Counter(body["worker"] for body in received)
    print(f"\n[postgres] {len(ids)} rows, sends by worker: {dict(by_worker)}, {time.monotonic() - started:.1f}s")

    assert [row.status for row in rows] == [DeliveryStatus.SENT] * len(ids)
    assert all(row.attempt_count == 1 for row in rows)
    assert set(by_id) == set(ids)
    assert [nid for nid, times in by_id.items() if times > 1] == []
    assert set(by_worker) == {"one", "two"}, f"both workers should share the work: {dict(by_worker)}"
