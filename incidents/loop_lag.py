"""How late the event loop runs what is due: the time a callback that should run now waits for
the ones ahead of it. Near zero while the process keeps up; it grows when the process has more
to do than its core can, and every request and statement waits that long at each of its turns."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

# Readings the figure is the least of: a process that is only held up once (a long callback,
# the machine lending its core elsewhere) is not busy; one late at every reading is.
_READINGS = 5


class LoopLag:
    """Started by the first ``seconds`` read; sleeps ``interval`` at a time and counts how much
    longer each sleep took."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self._late: deque[float] = deque([0.0], maxlen=_READINGS)
        self._task: asyncio.Task | None = None

    def seconds(self) -> float:
        """The loop's lag over the last few readings (0 until it has been measured)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._measure())
        return min(self._late)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _measure(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval)
            self._late.append(max(0.0, time.monotonic() - asked - self.interval))
