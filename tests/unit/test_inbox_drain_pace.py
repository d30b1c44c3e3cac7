"""When the intake inbox's backlog counts as too long to answer alerts inline again: by how long
it would take to work at the pace of its recent batches, not by a fixed count."""
from __future__ import annotations

from incidents.intake_inbox import UNMEASURED_LONG_BACKLOG, IntakeInbox
from incidents.lifecycle import EngineConfig
from storage.fields import utcnow

BUDGET = 0.25


def _inbox(waiting: int) -> IntakeInbox:
    inbox = IntakeInbox(lambda: EngineConfig(), utcnow, lambda: None)
    inbox._kept = waiting
    return inbox


def test_before_any_batch_was_worked_a_long_backlog_is_a_count():
    assert not _inbox(UNMEASURED_LONG_BACKLOG - 1).outlasts(BUDGET)
    assert _inbox(UNMEASURED_LONG_BACKLOG).outlasts(BUDGET)


def test_a_fast_inbox_hands_back_with_more_waiting_and_a_slow_one_keeps_with_fewer():
    fast = _inbox(200)
    fast._paced(0.05, 50)  # 1 ms a signal: 200 take 0.2 s
    assert not fast.outlasts(BUDGET)
    fast._kept = 300
    assert fast.outlasts(BUDGET)
    slow = _inbox(30)
    slow._paced(0.5, 50)  # 10 ms a signal: 30 take 0.3 s
    assert slow.outlasts(BUDGET)


def test_the_pace_follows_recent_batches():
    inbox = _inbox(100)
    inbox._paced(0.5, 50)
    assert inbox.outlasts(BUDGET)
    for _ in range(20):
        inbox._paced(0.05, 50)
    assert not inbox.outlasts(BUDGET), "once batches go fast again, the same backlog is short"
