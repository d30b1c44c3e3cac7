"""Worker subprocesses for the crash tests: ``tests/integration/worker_process.py`` (the
production Dispatcher and outbox with an HTTP recorder channel), queueing pages for them, and
bounded waits on what the database holds."""
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

from channels.registry import CHANNEL_TRAITS
from incidents.intake import TriggerRequest
from incidents.service import EngineConfig, IncidentService
from storage.database import database
from storage.enums import Channel, DeliveryStatus
from storage.models import NotificationLog, Team, TeamMember, User

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "tests.integration.worker_process"

BATCH_SIZE = 10
UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


async def queue_alerts(count: int) -> list[int]:
    """One team, one user with an email, and ``count`` incidents triggered through the service:
    ``count`` QUEUED EMAIL rows. Returns their ids."""
    team = await Team.acreate(name="payments", display_name="Payments")
    user = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=user)
    service = IncidentService(EngineConfig(enabled_channels=frozenset({Channel.EMAIL}), channel_traits=CHANNEL_TRAITS))
    for number in range(count):
        await service.trigger(TriggerRequest(title=f"disk full on db-{number}", team="payments"))
    rows = await notification_rows()
    assert len(rows) == count
    assert all(row.channel == Channel.EMAIL and row.status == DeliveryStatus.QUEUED for row in rows)
    return [row.id for row in rows]


async def notification_rows() -> list[NotificationLog]:
    return list(await database.list(NotificationLog.select().order_by(NotificationLog.id)))


async def status_counts() -> Counter:
    def count():
        query = NotificationLog.select(NotificationLog.status).tuples()
        return Counter(status for (status,) in query)

    return await database.run(count)


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.01):
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


def session_named(database_url: str, label: str) -> str:
    """On PostgreSQL, ``database_url`` with its sessions named ``label`` (``application_name``),
    so a test can tell when a killed worker's sessions have ended."""
    if not database_url.startswith("postgres"):
        return database_url
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}application_name={label}"


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
        env["ACKBOT_WORKER_DATABASE_URL"] = session_named(self.base_env["ACKBOT_WORKER_DATABASE_URL"], label)
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

    async def stop(self, process: subprocess.Popen, timeout: float = 15) -> None:
        """Stop ``process`` gracefully (SIGTERM: it finishes its batch) and check it exits 0.
        Once it has exited it can send nothing more, so sends counted afterwards are all of them."""
        process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a worker did not stop within {timeout:g}s of SIGTERM\n{self.logs()}")
        assert code == 0, self.logs()

    def alive(self, process: subprocess.Popen) -> bool:
        return process.poll() is None

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {label} (exit {process.poll()}) ---\n{path.read_text(errors='replace')[-4000:]}"
            for label, process, path in self.processes if path.exists()
        )

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, error_type, *exc_info) -> None:
        if error_type is not None:
            print(self.logs())  # pytest shows it with the failure
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.kill()
        for _, process, _ in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                pass


def check_alive(workers: Workers, process: subprocess.Popen):
    if not workers.alive(process):
        pytest.fail(f"a worker exited early with {process.returncode}\n{workers.logs()}")


