"""A cache whose entries live a few seconds: what one process may answer from memory while another
process changes the database underneath it. Whoever writes through the owning store calls
``clear`` (before and after the write); a change made elsewhere (another instance, the CLI) is
seen within ``seconds``.

Concurrent misses for one key wait for one load: under load a lookup takes long, and every
request arriving meanwhile would otherwise run its own. A load under way when the cache is
cleared is not remembered, nor shared with callers that come after the clear.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")

MAX_ENTRIES = 10_000


class ShortCache(Generic[Value]):
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Value]] = {}
        self._loading: dict[Hashable, asyncio.Future] = {}
        self._generation = 0

    async def get(self, key: Hashable, load: Callable[[], Awaitable[Value | None]]) -> Value | None:
        """The value remembered for ``key``, else what ``load`` returns (remembered unless None)."""
        entry = self._entries.get(key)
        if entry is not None:
            if self._clock() < entry[0]:
                return entry[1]
            del self._entries[key]
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._load(key, load, self._generation))
        return await asyncio.shield(pending)

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[Value | None]], generation: int) -> Value | None:
        try:
            value = await load()
        finally:
            if generation == self._generation:
                self._loading.pop(key, None)
        if value is not None and generation == self._generation and self.seconds > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock() + self.seconds, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1
