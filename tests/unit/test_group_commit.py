"""Group commit without a database (``incidents.group_commit``): items arriving while a
transaction is under way share the next one, and the wait it predicts follows what waits."""
from __future__ import annotations

import asyncio

from incidents.group_commit import GroupCommit


class SlowTransactions:
    """A ``run`` whose every transaction takes ``seconds``; records the batches it was given."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.batches: list[list[int]] = []

    async def __call__(self, batch: list[int]) -> list[int]:
        self.batches.append(batch)
        await asyncio.sleep(self.seconds)
        return [item * 10 for item in batch]


async def test_items_arriving_during_a_transaction_share_the_next_and_each_gets_its_own_result():
    run = SlowTransactions(0.05)
    commit: GroupCommit[int, int] = GroupCommit(run, postgres_writers=1)  # one writer whatever database the process last opened
    first = asyncio.create_task(commit.submit(1))
    await asyncio.sleep(0.01)  # the first transaction is under way
    rest = [asyncio.create_task(commit.submit(item)) for item in (2, 3, 4)]
    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40]
    assert run.batches == [[1], [2, 3, 4]]


async def test_the_expected_wait_grows_with_what_waits_and_is_none_when_nothing_does():
    gate = asyncio.Event()
    batches: list[list[int]] = []

    async def run(batch: list[int]) -> list[int]:
        batches.append(batch)
        await asyncio.sleep(0.05)
        await gate.wait()  # held open by the test from the second transaction on
        return batch

    commit: GroupCommit[int, int] = GroupCommit(run, postgres_writers=1)  # one writer whatever database the process last opened
    assert commit.expected_wait() == 0
    gate.set()
    await commit.submit(1)  # one item cost about 50 ms
    assert commit.expected_wait() == 0  # nothing waits
    gate.clear()
    first = asyncio.create_task(commit.submit(2))
    while len(batches) < 2:
        await asyncio.sleep(0.001)  # the second transaction is under way, held at the gate
    waiting = [asyncio.create_task(commit.submit(item)) for item in (3, 4, 5)]
    await asyncio.sleep(0.01)
    assert commit.expected_wait() >= 3 * 0.05 * 0.9
    gate.set()
    await asyncio.gather(first, *waiting)
    assert commit.expected_wait() == 0


async def test_a_failing_item_fails_alone():
    async def run(batch: list[int]) -> list[int]:
        if 13 in batch:
            raise ValueError("unlucky")
        await asyncio.sleep(0.01)
        return batch

    commit: GroupCommit[int, int] = GroupCommit(run, postgres_writers=1)  # one writer whatever database the process last opened
    first = asyncio.create_task(commit.submit(1))
    await asyncio.sleep(0)
    results = await asyncio.gather(first, *(commit.submit(item) for item in (12, 13, 14)), return_exceptions=True)
    assert results[:2] == [1, 12] and isinstance(results[2], ValueError) and results[3] == 14
