"""``incidents.intake_pace`` on a fixed clock: when intake keeps alerts in the inbox instead of
answering with the incident."""
from __future__ import annotations

from incidents.intake_pace import IntakePace

BUDGET = 0.25


class FixedLag:
    def __init__(self, seconds: float = 0.0):
        self.value = seconds

    def seconds(self) -> float:
        return self.value

    async def stop(self) -> None:
        pass


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pace(lag: float = 0.0) -> tuple[IntakePace, Clock]:
    clock = Clock()
    return IntakePace(FixedLag(lag), clock), clock  # type: ignore[arg-type]


def test_a_calm_process_answers_with_the_incident():
    pace, _ = _pace()
    assert not pace.too_slow(0.0, BUDGET)
    assert not pace.too_slow(0.2, BUDGET)


def test_a_long_write_queue_or_a_late_loop_keeps():
    pace, _ = _pace()
    assert pace.too_slow(0.25, BUDGET)
    late, _ = _pace(lag=0.03)
    assert late.too_slow(0.0, BUDGET)
    assert late.too_slow(0.0, 0.0)


def test_triggers_slow_of_late_keep_but_one_slow_trigger_does_not():
    pace, clock = _pace()
    for _ in range(20):
        pace.record(0.01)
    pace.record(0.6)  # one slow one
    assert not pace.too_slow(0.0, BUDGET)
    for _ in range(10):
        pace.record(0.6)
    assert pace.too_slow(0.0, BUDGET)
    clock.now += 1.5  # nothing measured since (every alert kept): try answering again
    assert not pace.too_slow(0.0, BUDGET)
