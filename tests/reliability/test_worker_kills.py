"""SIGKILL a worker at random moments of its batches, again and again: nothing is stuck, nothing
is lost, and what went out twice stays within the documented bound (at most one batch per kill:
exactly the rows the killed worker held). Runs on SQLite and PostgreSQL.

The moments come from a seeded ``random.Random``, so a failure names the seed that found it;
the kills still land wherever the real processes happen to be (claiming, sending, recording).
"""
from __future__ import annotations

import random
import time

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

SEED = 20261128
KILLS = 4
ROWS = 120
BATCH_SIZE = 10
SEND_DELAY = 0.2  # each send waits this long after reaching the provider: the batch is in flight
KILL_WINDOW = 0.5  # seconds after a worker's first send within which it is killed (about two batches)
SETTINGS = dict(send_delay=SEND_DELAY, batch_size=BATCH_SIZE, lease_seconds=1, poll_interval=0.1)


async def test_random_sigkills_lose_nothing_and_resend_at_most_what_was_in_flight(storage, encryption_key, tmp_path):
    ids = await queue_alerts(ROWS)
    rng = random.Random(SEED)
    started = time.monotonic()
    held_at_kills: list[set[int]] = []
    moments: list[float] = []

    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            for number in range(1, KILLS + 1):
                label, ready = f"victim-{number}", tmp_path / f"victim-{number}.ready"
                victim = workers.start(label, ready_file=ready, **SETTINGS)
                moments.append(await kill_at_random(workers, victim, recorder, label, rng, KILL_WINDOW))
                held_at_kills.append(await in_hands(worker_id(ready)))
            sent_before_survivor = len(set(recorder.notification_ids()))
            assert sent_before_survivor < ROWS, "the kills came too late to matter"

            survivor = workers.start("survivor", **SETTINGS)

            async def finished():
                check_alive(workers, survivor)
                return await everything_finished()

            await wait_until(finished, 30, "every row to leave QUEUED and SENDING", interval=0.1)
            await workers.stop(survivor)

        final = await notification_rows()
        tally = Tally.of(list(recorder.received))

    held = set().union(*held_at_kills)
    print(
        f"\n[{'postgres' if is_postgres() else 'sqlite'}] seed {SEED}: {ROWS} rows, {KILLS} kills at "
        f"{', '.join(f'{moment:.2f}s' for moment in moments)} after each worker's first send; "
        f"rows held at each kill: {[len(rows_held) for rows_held in held_at_kills]}; "
        f"{sent_before_survivor} rows sent before the survivor started; "
        f"sends {sum(tally.sends.values())}, duplicates {tally.duplicates} (bound {KILLS * BATCH_SIZE}); "
        f"{time.monotonic() - started:.1f}s"
    )

    assert [row.status for row in final] == [DeliveryStatus.SENT] * ROWS, "nothing stuck"
    assert not any(row.claimed_by or row.lease_expires_at for row in final)
    assert set(tally.sends) == set(ids), "nothing lost: every notification reached the provider"
    assert tally.duplicate_ids <= held, "only rows a killed worker held were sent again"
    assert tally.duplicates <= KILLS * BATCH_SIZE
    assert all(len(rows_held) <= BATCH_SIZE for rows_held in held_at_kills)
    assert all(row.attempt_count >= 2 for row in final if row.id in held), "a cut-short attempt still counts"
