"""Two worker processes share PostgreSQL and both look for hand-offs at the same moment: the
incoming person's notice goes out once."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from incidents.directory import PeopleDirectory
from storage.database import database, is_postgres
from storage.models import HandoffNotice, NotificationLog
from tests.fakes.recorder import Recorder
from tests.integration.worker_support import Workers, check_alive, wait_until

PEOPLE = """
[[teams]]
name = "payments"

[[schedules]]
name = "payments-primary"
time_zone = "UTC"
team = "payments"

[[schedules.rotations]]
users = ["bob", "alice"]
start = "{start}"
shift = "1h"

[[users]]
handle = "alice"
name = "Alice"
email = "alice@example.com"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob"
teams = ["payments"]
"""


async def test_two_instances_send_one_notice_per_hand_off(storage, encryption_key, tmp_path):
    if not is_postgres():
        pytest.skip("SQLite has one writer; instances sharing one database is a PostgreSQL deployment")
    # Bob's hour started 55 minutes ago: Alice's starts in about five, inside the notice lead.
    start = (datetime.now(UTC) - timedelta(minutes=55)).replace(second=0, microsecond=0, tzinfo=None)
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE.format(start=start.isoformat(timespec="minutes")))
    await PeopleDirectory().apply_file(path)
    gate = tmp_path / "go"
    ready = {label: tmp_path / f"{label}.ready" for label in ("one", "two")}
    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            processes = [workers.start(label, ready_file=file, start_gate=gate, poll_interval=0.05) for label, file in ready.items()]

            def both_ready():
                for process in processes:
                    check_alive(workers, process)
                return all(file.exists() for file in ready.values())

            await wait_until(both_ready, 20, "both workers to connect")
            gate.touch()
            await wait_until(lambda: recorder.received, 20, "the notice to be sent")
            await asyncio.sleep(1.0)  # many more polls by both: nothing else may go out
    assert len(recorder.received) == 1
    notices = await database.run(lambda: [(row.audience, row.user_id) for row in HandoffNotice.select()])
    rows = await database.run(lambda: list(NotificationLog.select()))
    assert [audience for audience, _ in notices] == ["person"]
    assert [(row.user_id, row.channel, row.status) for row in rows] == [(notices[0][1], "EMAIL", "SENT")]
