"""The short cache behind the Slack bot and identity lookups: one load for concurrent misses,
nothing remembered past its seconds, and nothing read before a write remembered after it."""
from __future__ import annotations

import asyncio

from incidents.short_cache import ShortCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loads:
    def __init__(self, value: str | None = "row") -> None:
        self.value = value
        self.count = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> str | None:
        self.count += 1
        await self.gate.wait()
        return self.value


async def test_concurrent_misses_share_one_load_and_the_value_lasts_its_seconds():
    clock, loads = Clock(), Loads()
    cache: ShortCache[str] = ShortCache(5.0, clock)
    loads.gate.clear()
    waiting = [asyncio.ensure_future(cache.get("T1", loads)) for _ in range(20)]
    await asyncio.sleep(0)
    loads.gate.set()
    assert await asyncio.gather(*waiting) == ["row"] * 20 and loads.count == 1
    clock.now += 4.9
    assert await cache.get("T1", loads) == "row" and loads.count == 1
    clock.now += 0.2
    assert await cache.get("T1", loads) == "row" and loads.count == 2


async def test_nothing_is_remembered_when_nothing_was_found():
    loads = Loads(value=None)
    cache: ShortCache[str] = ShortCache(5.0, Clock())
    assert await cache.get("T1", loads) is None
    assert await cache.get("T1", loads) is None and loads.count == 2


async def test_a_load_under_way_when_the_cache_is_cleared_is_not_remembered_nor_shared():
    loads = Loads()
    cache: ShortCache[str] = ShortCache(5.0, Clock())
    loads.gate.clear()
    before = asyncio.ensure_future(cache.get("T1", loads))
    await asyncio.sleep(0)
    cache.clear()  # a write through the owning store
    after = asyncio.ensure_future(cache.get("T1", loads))
    await asyncio.sleep(0)
    loads.gate.set()
    await asyncio.gather(before, after)
    assert loads.count == 2, "the caller after the clear did not join the load before it"
    assert await cache.get("T1", loads) == "row" and loads.count == 2, "the load after the clear is remembered"
