"""The incident page's delivery grid: people down, channels across. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field

from incidents.report import NotificationLine
from storage.enums import Channel

CHANNEL_ORDER = tuple(Channel)


@dataclass
class GridRow:
    person: str
    levels: set[int] = field(default_factory=set)
    cells: dict[str, list[NotificationLine]] = field(default_factory=dict)

    @property
    def level_text(self) -> str:
        return ", ".join(str(level) for level in sorted(self.levels)) or "-"


@dataclass(frozen=True)
class Grid:
    channels: tuple[str, ...]
    rows: tuple[GridRow, ...]


def delivery_grid(notifications: tuple[NotificationLine, ...]) -> Grid:
    """One row per person paged, one column per channel any of them was paged on, each cell the
    notifications of that person on that channel (a page, then status notices), oldest first."""
    rows: dict[str, GridRow] = {}
    used: set[str] = set()
    for line in notifications:
        row = rows.setdefault(line.person, GridRow(line.person))
        if line.escalation_level is not None:
            row.levels.add(line.escalation_level)
        row.cells.setdefault(line.channel, []).append(line)
        used.add(line.channel)
    channels = tuple(channel for channel in CHANNEL_ORDER if channel in used)
    return Grid(channels, tuple(rows.values()))
