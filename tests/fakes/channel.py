"""A channel for engine tests that can be told to succeed, fail temporarily, fail for good, or
hang, and records every payload it was asked to send."""
from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta

from channels.base import BaseChannel
from channels.types import ChannelDeliveryResult, NotificationPayload

SUCCEED = "succeed"
DELIVER = "deliver"
TEMPORARY = "temporary"
PERMANENT = "permanent"
HANG = "hang"


class ScriptedChannel(BaseChannel):
    def __init__(self, name: str, default: str = SUCCEED):
        self.name = name
        self.default = default
        self.script: deque[str] = deque()
        self.sent: list[NotificationPayload] = []

    def then(self, *behaviours: str) -> ScriptedChannel:
        """Answer the next sends with ``behaviours`` in order, then with the default."""
        self.script.extend(behaviours)
        return self

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        self.sent.append(payload)
        behaviour = self.script.popleft() if self.script else self.default
        provider_id = f"{self.name}-{payload.notification_id}-{len(self.sent)}"
        if behaviour == SUCCEED:
            return ChannelDeliveryResult.sent(provider_id, message_reference={"id": provider_id})
        if behaviour == DELIVER:
            return ChannelDeliveryResult.delivered(provider_id)
        if behaviour == TEMPORARY:
            return ChannelDeliveryResult.temporary_failure("provider answered 503", retry_after=None)
        if behaviour == PERMANENT:
            return ChannelDeliveryResult.permanent_failure("invalid address")
        if behaviour == HANG:
            await asyncio.Event().wait()
        raise AssertionError(f"unknown behaviour {behaviour}")


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now
