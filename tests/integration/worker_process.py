"""A dispatcher worker in its own process, for the crash-recovery tests.

Runs the production ``Dispatcher`` and outbox against a database until killed; only the EMAIL
channel is a test double (``tests.fakes.recorder.RecorderChannel``). Start it from the repo root
with ``python -m tests.integration.worker_process`` (or by path with the repo root on sys.path).

Environment:
    ACKBOT_WORKER_DATABASE_URL     the database (sqlite:///... or postgresql://...), required
    ACKBOT_WORKER_ENCRYPTION_KEY   the keyring's key, required
    ACKBOT_WORKER_RECORDER_URL     the recorder's /send URL, required
    ACKBOT_WORKER_SEND_DELAY       seconds the channel waits after the POST before answering (0)
    ACKBOT_WORKER_BATCH_SIZE       DispatcherConfig.batch_size (10)
    ACKBOT_WORKER_LEASE_SECONDS    EngineConfig.lease in seconds (60)
    ACKBOT_WORKER_POLL_INTERVAL    DispatcherConfig.poll_interval in seconds (0.2)
    ACKBOT_WORKER_LABEL            sent with every POST as "worker" (default: the pid)
    ACKBOT_WORKER_READY_FILE       written once the database answers, before any claim (optional)
    ACKBOT_WORKER_START_GATE       a path; the dispatcher starts only once it exists (optional)

SIGTERM (or SIGINT) stops the dispatcher gracefully (``Dispatcher.stop``) and exits 0.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from channels.registry import CHANNEL_TRAITS

if __package__ in (None, ""):  # run by path: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from channels.dispatcher import Dispatcher, DispatcherConfig  # noqa: E402
from incidents.lifecycle import EngineConfig  # noqa: E402
from incidents.service import IncidentService  # noqa: E402
from storage.database import close_database, database, open_database  # noqa: E402
from storage.enums import Channel  # noqa: E402
from storage.fields import use_keyring  # noqa: E402
from storage.keyring import Keyring  # noqa: E402
from storage.models import NotificationLog  # noqa: E402
from tests.fakes.recorder import RecorderChannel  # noqa: E402

PREFIX = "ACKBOT_WORKER_"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(PREFIX + name, default)
    if value is None:
        raise SystemExit(f"{PREFIX}{name} must be set")
    return value


async def main() -> int:
    use_keyring(Keyring((_env("ENCRYPTION_KEY"),)))
    open_database(_env("DATABASE_URL"))
    label = _env("LABEL", str(os.getpid()))
    channel = RecorderChannel(
        Channel.EMAIL, _env("RECORDER_URL"), delay=float(_env("SEND_DELAY", "0")), label=label
    )
    service = IncidentService(
        EngineConfig(
            enabled_channels=frozenset({Channel.EMAIL}),
            channel_traits=CHANNEL_TRAITS,
            lease=timedelta(seconds=float(_env("LEASE_SECONDS", "60"))),
        )
    )
    dispatcher = Dispatcher(
        service,
        {Channel.EMAIL: channel},
        DispatcherConfig(batch_size=int(_env("BATCH_SIZE", "10")), poll_interval=float(_env("POLL_INTERVAL", "0.2"))),
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)

    # Connect before saying ready, so a start gate measures work, not start-up.
    await database.run(lambda: NotificationLog.select().count())
    ready_file = os.environ.get(PREFIX + "READY_FILE")
    if ready_file:
        Path(ready_file).write_text(f"{os.getpid()} {dispatcher.worker_id}\n")
    gate = os.environ.get(PREFIX + "START_GATE")
    while gate and not Path(gate).exists() and not stop.is_set():
        await asyncio.sleep(0.02)

    task = asyncio.create_task(dispatcher.run())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if task.done():  # run() returns only when stopped; anything else is a bug worth a non-zero exit
        exit_code = 0 if stop.is_set() else 1
        if task.exception() is not None:
            logging.getLogger("ackbot.worker").error("dispatcher died", exc_info=task.exception())
            exit_code = 1
    else:
        await dispatcher.stop(task)
    stopped.cancel()
    await channel.close()
    await close_database()
    return exit_code


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    sys.exit(asyncio.run(main()))
