"""Whether a trigger taken now would be answered later than intake's budget: the signal that
sends intake to the inbox (``incidents.intake_inbox``) while the process is past what it can
write in time, and back to answering with the incident once it is not.

Three readings, any of which is enough: what waits ahead of the trigger in the write queue
(``GroupCommit.expected_wait``), the event loop's lag at each of the trigger's turns (the
process's core is the limit), and how long the last triggers took, of late."""
from __future__ import annotations

import time
from collections.abc import Callable

from incidents.loop_lag import LoopLag

# The turns of the event loop a trigger takes (its statements) before it is answered.
TRIGGER_LOOP_TURNS = 10
# Weight of the newest trigger in the running time a trigger takes, and how long that figure
# counts without a newer one (while intake keeps every alert, none is measured).
_WEIGHT = 0.2
_FRESH_SECONDS = 1.0


class IntakePace:
    def __init__(self, lag: LoopLag | None = None, clock: Callable[[], float] = time.monotonic):
        self.lag = lag or LoopLag()
        self.clock = clock
        self._trigger_seconds = 0.0
        self._measured_at = float("-inf")

    def record(self, seconds: float) -> None:
        """A trigger took ``seconds`` from being taken to its commit."""
        self._trigger_seconds += _WEIGHT * (seconds - self._trigger_seconds)
        self._measured_at = self.clock()

    def too_slow(self, queued_wait: float, budget: float) -> bool:
        """Whether a trigger taken now, with ``queued_wait`` seconds of triggers ahead of it,
        would likely take ``budget`` seconds or more."""
        recent = self._trigger_seconds if self.clock() - self._measured_at < _FRESH_SECONDS else 0.0
        expected = max(queued_wait + TRIGGER_LOOP_TURNS * self.lag.seconds(), recent)
        return expected >= budget

    async def stop(self) -> None:
        await self.lag.stop()
