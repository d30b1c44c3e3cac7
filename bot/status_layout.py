"""What the Slack and Teams status views share: the symbols before a page's words, when a view is
summarised, and where the full grid is."""
from __future__ import annotations

from storage.enums import DeliveryStatus

STATUS_MARKS: dict[str, str] = {
    DeliveryStatus.FAILED: "❌",
    DeliveryStatus.SENDING: "📤",
    DeliveryStatus.QUEUED: "⏳",
    DeliveryStatus.SENT: "📨",
    DeliveryStatus.DELIVERED: "✅",
    DeliveryStatus.CANCELLED: "⚪",
}
NEXT_MARK = "⏭"
NOTE_MARK = "⚠️"

# Past this many people a status view is summarised (counts, failures first); the command
# line's `ackbot status N` always has the full grid.
DETAIL_LIMIT = 15
FAILED_DETAIL_LIMIT = 10


def mark(status: str) -> str:
    return STATUS_MARKS.get(status, "•")


def counts_text(counts: tuple[tuple[str, int], ...]) -> str:
    """"❌ 2 failed · ✅ 38 delivered"."""
    return " · ".join(f"{mark(status)} {count} {status.lower()}" for status, count in counts) or "no pages"


def full_grid_hint(number: int) -> str:
    return f"The full grid, every attempt and provider id: ackbot status {number} on the command line."


def alert_count(count: int) -> str:
    return "1 alert" if count == 1 else f"{count} alerts"
