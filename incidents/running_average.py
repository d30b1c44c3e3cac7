"""A running average that favours recent readings (exponentially weighted): what a group-commit
write or an inbox signal has cost of late."""
from __future__ import annotations

# Weight of the newest reading.
NEWEST_WEIGHT = 0.2


class RunningAverage:
    def __init__(self) -> None:
        self.value: float | None = None  # None before the first reading

    def add(self, reading: float) -> None:
        previous = self.value
        self.value = reading if previous is None else previous + NEWEST_WEIGHT * (reading - previous)
