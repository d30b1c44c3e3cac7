"""``ackbot worker`` with the SMS channel replaced by one that sends nothing: the delivery
engine's ceiling (claim, payload, record, escalation checks) without any provider client or HTTP.

Configured like ``ackbot worker``, from ACKBOT_* variables; the same start-up (storage, keyring,
schema check) and the same dispatcher. Prints ``worker ... started`` once it can claim; stops
on SIGTERM as ``ackbot worker`` does.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys

from app import Settings, open_storage
from channels.base import BaseChannel
from channels.dispatcher import Dispatcher
from channels.types import Channel, ChannelDeliveryResult, NotificationPayload
from incidents.service import IncidentService
from storage.database import close_database


class NullSmsChannel(BaseChannel):
    """Accepts every page at once, as a provider that answers in no time would."""

    name = Channel.SMS

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        return ChannelDeliveryResult.sent(f"null-{payload.notification_id}")


async def main() -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    await open_storage(settings, apply_migrations=False)
    try:
        channels = {Channel.SMS: NullSmsChannel()}
        service = IncidentService(settings.engine_config(channels))
        dispatcher = Dispatcher(service, channels, settings.dispatcher_config())
        service.on_queued = dispatcher.wake
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        print(f"worker {dispatcher.worker_id} started (null SMS channel)", flush=True)
        task = asyncio.create_task(dispatcher.run())
        await stop.wait()
        await dispatcher.stop(task)
    finally:
        await close_database()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
