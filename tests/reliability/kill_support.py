"""What the SIGKILL tests share: worker subprocesses (``tests/integration/worker_process.py``,
started and always killed by the crash-recovery tests' ``Workers``), the rows a killed worker
held, and the final accounting of what the recorder received."""
from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from storage.database import database, is_postgres
from storage.enums import DeliveryStatus
from storage.models import NotificationLog
from tests.integration.worker_support import (  # noqa: F401  (re-exported for the kill tests)
    Workers,
    check_alive,
    notification_rows,
    queue_alerts,
    status_counts,
    wait_until,
)

UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def worker_id(ready_file: Path) -> str:
    """The dispatcher id a worker wrote to its ready file ("<pid> <worker id>")."""
    return ready_file.read_text().split()[1]


async def in_hands(worker: str, label: str) -> set[int]:
    """Ids of the rows ``worker`` (started as ``label``, now killed) had claimed and not recorded
    (SENDING, claimed by it). On PostgreSQL, once its sessions have ended: a COMMIT it wrote just
    before it died still takes effect after its death."""
    if is_postgres():
        await wait_until(lambda: _sessions_ended(label), 10, f"the sessions of {label} to end")
    query = NotificationLog.select(NotificationLog.id).where(
        (NotificationLog.status == DeliveryStatus.SENDING) & (NotificationLog.claimed_by == worker)
    )
    return {row.id for row in await database.list(query)}


async def _sessions_ended(label: str) -> bool:
    cursor = await database.run(
        database.execute_sql, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (label,)
    )
    return cursor.fetchone()[0] == 0


async def kill_at_random(workers: Workers, process, recorder, label: str, rng: random.Random, window: float) -> float:
    """Once ``process`` has made its first send, wait a random moment within ``window`` seconds,
    then SIGKILL it; returns the moment chosen."""

    def started():
        check_alive(workers, process)
        return any(body.get("worker") == label for body in recorder.received)

    await wait_until(started, 20, f"worker {label} to start sending")
    moment = rng.uniform(0, window)
    await asyncio.sleep(moment)
    check_alive(workers, process)
    workers.kill(process)
    return moment


async def everything_finished() -> bool:
    counts = await status_counts()
    return not any(counts[status] for status in UNFINISHED)


@dataclass(frozen=True)
class Tally:
    """What reached the provider: sends per notification id, and who sent each."""

    sends: Counter
    senders: dict[int, set[str]]

    @classmethod
    def of(cls, received: list[dict]) -> Tally:
        senders: dict[int, set[str]] = {}
        for body in received:
            senders.setdefault(body["notification_id"], set()).add(body["worker"])
        return cls(Counter(body["notification_id"] for body in received), senders)

    @property
    def duplicate_ids(self) -> set[int]:
        return {notification_id for notification_id, times in self.sends.items() if times > 1}

    @property
    def duplicates(self) -> int:
        """Sends beyond the first, over all notifications."""
        return sum(self.sends.values()) - len(self.sends)
