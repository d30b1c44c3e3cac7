"""CPU time of one trigger, in-process: N new incidents in a row through ``IncidentService.trigger``
on a fresh database, each paging a team of 3 by SMS (as ``bench.dispatch``'s intake does).

    .venv/bin/python -m bench.trigger_cpu [--backend sqlite|postgres] [--triggers 300] [--concurrency 1]

Prints the process CPU milliseconds per trigger (the client is this process too, but it only
calls the service). ``--concurrency`` triggers at a time measures the work shared under load.
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from bench.common import DEFAULT_POSTGRES_URL, Storage, new_key
from channels.registry import CHANNEL_TRAITS
from incidents.intake import TriggerRequest
from incidents.lifecycle import EngineConfig
from incidents.service import IncidentService
from storage.enums import Channel, Priority

TEAM = "bench-intake"


async def _postgres_database(base: str) -> str:
    name = f"ackbot_trigger_cpu_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(base)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlsplit(base)._replace(path=f"/{name}").geturl()


async def measure(url: str, triggers: int, concurrency: int) -> float:
    async with Storage(url, new_key()) as storage:
        await storage.seed_team(TEAM, 3)
        config = EngineConfig(enabled_channels=frozenset({Channel.SMS, Channel.EMAIL}), channel_traits=CHANNEL_TRAITS)
        service = IncidentService(config)
        counter = iter(range(10**9))

        async def one() -> None:
            index = next(counter)
            request = TriggerRequest(title=f"Benchmark incident {index}", service="checkout", team=TEAM,
                                     priority=Priority.CRITICAL, labels={"service": "checkout", "team": TEAM})
            outcome = await service.trigger(request)
            assert outcome.created and outcome.team_name == TEAM

        for _ in range(20):  # warm up
            await one()
        started = time.process_time()

        async def worker(count: int) -> None:
            for _ in range(count):
                await one()

        await asyncio.gather(*(worker(triggers // concurrency) for _ in range(concurrency)))
        return (time.process_time() - started) * 1000 / (triggers // concurrency * concurrency)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--triggers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ackbot-trigger-cpu-") as folder:
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(folder) / 'ackbot.db'}"
        else:
            url = await _postgres_database(args.postgres_url)
        per_trigger = await measure(url, args.triggers, args.concurrency)
    print(f"{args.backend}: {per_trigger:.2f} ms of CPU per trigger ({args.triggers} triggers, {args.concurrency} at a time)")


if __name__ == "__main__":
    asyncio.run(main())
