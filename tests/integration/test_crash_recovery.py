"""The outbox survives crashes and shares work safely, proved with real worker processes.

Each worker is ``tests/integration/worker_process.py``: the production Dispatcher and outbox in a
subprocess, sending EMAIL rows to an HTTP recorder served by this test process. Workers are
SIGKILLed mid-batch; the rows they had claimed must be claimed again once their lease expires,
and every row must end SENT. What may be sent twice is bounded by the rows in flight at each kill
(at most one batch per kill). Two workers at once (PostgreSQL) must never send a row twice.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from incidents.intake import TriggerRequest
from incidents.service import EngineConfig, IncidentService
from storage.database import database, is_postgres
from storage.enums import Channel, DeliveryStatus
from storage.models import NotificationLog, Team, TeamMember, User
from tests.fakes.recorder import Recorder

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "tests.integration.worker_process"

BATCH_SIZE = 10
UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


# --- helpers ---------------------------------------------------------------------------------


async def _queue_alerts(count: int) -> list[int]:
    """One team, one user with an email, and ``count`` incidents triggered through the service:
    ``count`` QUEUED EMAIL rows. Returns their ids."""
    team = await Team.acreate(name="payments", display_name="Payments")
    user = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=user)
    service = IncidentService(EngineConfig(enabled_channels=frozenset({Channel.EMAIL})))
    for number in range(count):
        await service.trigger(TriggerRequest(title=f"disk full on db-{number}", team="payments"))
    rows = await _rows()
    assert len(rows) == count
    assert all(row.channel == Channel.EMAIL and row.status == DeliveryStatus.QUEUED for row in rows)
    return [row.id for row in rows]


async def _rows() -> list[NotificationLog]:
    return list(await database.list(NotificationLog.select().order_by(NotificationLog.id)))


async def _status_counts() -> Counter:
    def count():
        query = NotificationLog.select(NotificationLog.status).tuples()
        return Counter(status for (status,) in query)

    return await database.run(count)


async def _wait_until(predicate, timeout: float, what: str, interval: float = 0.01):
    """Poll ``predicate`` (sync or async) until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


class Workers:
    """Starts worker subprocesses and always kills what is still running on exit."""

    def __init__(self, tmp_path: Path, database_url: str, encryption_key: str, recorder_url: str):
        self.tmp_path = tmp_path
        self.base_env = {
            "ACKBOT_WORKER_DATABASE_URL": database_url,
            "ACKBOT_WORKER_ENCRYPTION_KEY": encryption_key,
            "ACKBOT_WORKER_RECORDER_URL": recorder_url,
        }
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, label: str, **settings: str | float | int) -> subprocess.Popen:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env.update(self.base_env)
        env["ACKBOT_WORKER_LABEL"] = label
        env.update({f"ACKBOT_WORKER_{name.upper()}": str(value) for name, value in settings.items()})
        log_path = self.tmp_path / f"worker-{label}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE], cwd=REPO_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        self.processes.append((label, process, log_path))
        return process

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def alive(self, process: subprocess.Popen) -> bool:
        return process.poll() is None

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {label} (exit {process.poll()}) ---\n{path.read_text(errors='replace')[-4000:]}"
            for label, process, path in self.processes if path.exists()
        )

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc_info) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.kill()
        for _, process, _ in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                pass


def _check_alive(workers: Workers, process: subprocess.Popen):
    if not workers.alive(process):
        pytest.fail(f"a worker exited early with {process.returncode}\n{workers.logs()}")


# --- tests -----------------------------------------------------------------------------------


async def test_a_worker_killed_mid_batch_loses_nothing(storage, encryption_key, tmp_path):
    ids = await _queue_alerts(60)
    started = time.monotonic()
    kill_points = (5, 25, 45)  # distinct notifications received when each worker is killed
    settings = dict(send_delay=0.2, batch_size=BATCH_SIZE, lease_seconds=1, poll_interval=0.2)

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            try:
                in_flight_at_kills = []
                for round_number, kill_point in enumerate(kill_points, start=1):
                    worker = workers.start(f"victim-{round_number}", **settings)

                    def reached():
                        _check_alive(workers, worker)
                        return len(set(recorder.notification_ids())) >= kill_point

                    await _wait_until(reached, 20, f"{kill_point} distinct sends before kill {round_number}")
                    workers.kill(worker)
                    counts = await _status_counts()
                    in_flight_at_kills.append(counts[DeliveryStatus.SENDING])
                    assert len(set(recorder.notification_ids())) < len(ids), "the kill came too late to matter"

                survivor = workers.start("survivor", **settings)

                async def finished():
                    _check_alive(workers, survivor)
                    counts = await _status_counts()
                    return not any(counts[status] for status in UNFINISHED)

                await _wait_until(finished, 60, "every row to leave QUEUED and SENDING", interval=0.1)
                await asyncio.sleep(0.3)  # anything still arriving would be a send after the row was recorded
            except BaseException:
                print(workers.logs())
                raise

        rows = await _rows()
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
    ids = await _queue_alerts(100)
    started = time.monotonic()
    gate = tmp_path / "go"
    # A long lease: no worker is killed here, so a row must never be claimed twice.
    settings = dict(send_delay=0.1, batch_size=BATCH_SIZE, lease_seconds=60, poll_interval=0.2, start_gate=gate)

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            try:
                ready = {label: tmp_path / f"{label}.ready" for label in ("one", "two")}
                processes = [
                    workers.start(label, ready_file=ready_file, **settings) for label, ready_file in ready.items()
                ]

                def both_ready():
                    for process in processes:
                        _check_alive(workers, process)
                    return all(path.exists() for path in ready.values())

                await _wait_until(both_ready, 20, "both workers to connect")
                gate.touch()

                async def finished():
                    for process in processes:
                        _check_alive(workers, process)
                    counts = await _status_counts()
                    return counts[DeliveryStatus.SENT] == len(ids)

                await _wait_until(finished, 30, "every row to be SENT", interval=0.05)
                await asyncio.sleep(0.3)
                for process in processes:  # a graceful stop, too: SIGTERM exits 0
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    assert process.wait(timeout=15) == 0, workers.logs()
            except BaseException:
                print(workers.logs())
                raise

        rows = await _rows()
        received = list(recorder.received)

    by_id = Counter(body["notification_id"] for body in received)
    by_worker = Counter(body["worker"] for body in received)
    print(f"\n[postgres] {len(ids)} rows, sends by worker: {dict(by_worker)}, {time.monotonic() - started:.1f}s")

    assert [row.status for row in rows] == [DeliveryStatus.SENT] * len(ids)
    assert all(row.attempt_count == 1 for row in rows)
    assert set(by_id) == set(ids)
    assert [nid for nid, times in by_id.items() if times > 1] == []
    assert set(by_worker) == {"one", "two"}, f"both workers should share the work: {dict(by_worker)}"
