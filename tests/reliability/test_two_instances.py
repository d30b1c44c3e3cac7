"""Two worker processes share PostgreSQL; one is SIGKILLed at a random moment mid-run. The other
finishes all the work, and the only rows sent twice are ones the killed worker held when it died
(it had sent them, but never recorded it): at most one batch."""
from __future__ import annotations

import random
import time

import pytest

from storage.database import is_postgres
from storage.enums import DeliveryStatus
from tests.fakes.recorder import Recorder
from tests.reliability.kill_support import (
    Tally,
    Workers,
    check_alive,
    everything_finished,
    in_hands,
    kill_at_random,
    notification_rows,
    queue_alerts,
    wait_until,
    worker_id,
)

SEED = 42
ROWS = 200
BATCH_SIZE = 10
# The survivor takes over the victim's rows once their lease lapses; a batch of its own takes
# about SEND_DELAY, far inside the lease, so none of its rows is ever claimed twice.
SETTINGS = dict(send_delay=0.1, batch_size=BATCH_SIZE, lease_seconds=1, poll_interval=0.1)


async def test_the_survivor_finishes_and_resends_only_what_the_killed_worker_held(storage, encryption_key, tmp_path):
    if not is_postgres():
        pytest.skip("SQLite has one writer; instances sharing one database is a PostgreSQL deployment")
    ids = await queue_alerts(ROWS)
    rng = random.Random(SEED)
    started = time.monotonic()
    gate = tmp_path / "go"
    ready = {label: tmp_path / f"{label}.ready" for label in ("victim", "survivor")}

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            processes = {
                label: workers.start(label, ready_file=path, start_gate=gate, **SETTINGS)
                for label, path in ready.items()
            }

            def both_ready():
                for process in processes.values():
                    check_alive(workers, process)
                return all(path.exists() for path in ready.values())

            await wait_until(both_ready, 20, "both workers to connect")
            gate.touch()
            moment = await kill_at_random(workers, processes["victim"], recorder, "victim", rng, 0.4)
            held = await in_hands(worker_id(ready["victim"]))
            sent_at_kill = len(set(recorder.notification_ids()))
            assert sent_at_kill < ROWS, "the kill came too late to matter"

            async def finished():
                check_alive(workers, processes["survivor"])
                return await everything_finished()

            await wait_until(finished, 30, "the survivor to finish every row", interval=0.05)
            await workers.stop(processes["survivor"])

        final = await notification_rows()
        tally = Tally.of(list(recorder.received))

    by_worker = {label: sum(1 for body in recorder.received if body["worker"] == label) for label in ready}
    print(
        f"\n[postgres] seed {SEED}: {ROWS} rows; victim killed {moment:.2f}s after its first send, holding "
        f"{len(held)} rows, {sent_at_kill} rows sent by then; sends by worker {by_worker}; "
        f"duplicates {tally.duplicates} (ids {sorted(tally.duplicate_ids)}); {time.monotonic() - started:.1f}s"
    )

    assert [row.status for row in final] == [DeliveryStatus.SENT] * ROWS, "the survivor finished the work"
    assert set(tally.sends) == set(ids)
    assert all(tally.sends[notification_id] <= 2 for notification_id in ids)
    assert all("victim" in tally.senders[notification_id] for notification_id in tally.duplicate_ids), (
        "every row sent twice had been sent by the killed worker"
    )
    assert tally.duplicate_ids <= held, "no row outside the killed worker's hands was sent twice"
    assert tally.duplicates <= BATCH_SIZE
    assert all(tally.senders[notification_id] == {"victim", "survivor"} for notification_id in tally.duplicate_ids)
