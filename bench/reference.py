"""The same-run reference the dispatch, mixed and size benchmarks are measured against: how many
requests/s a bare aiohttp handler (``bench.baselines bare``: it checks a Slack signature and
answers 200) serves on this machine, now, loaded by ``bench.loadgen`` over 64 connections; and
the CPU it spent per request, a figure that depends less on what else the machine is doing."""
from __future__ import annotations

import asyncio
import json
import time

from bench.common import SLACK_SIGNING_SECRET, Harness, python_module


async def bare_aiohttp_rps(harness: Harness, seconds: float = 3.0, warmup: float = 1.0,
                           concurrency: int = 64) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of the bare aiohttp baseline, closed loop; its process is
    stopped afterwards."""
    bare, port = await harness.start_ready("bare-aiohttp", python_module(
        "bench.baselines", "bare", "--signing-secret", SLACK_SIGNING_SECRET))
    loadgen = harness.start("loadgen-bare-aiohttp", python_module(
        "bench.loadgen", "--url", f"http://127.0.0.1:{port}/slack/events", "--secret", SLACK_SIGNING_SECRET,
        "--response-url", "http://127.0.0.1:9/unused", "--concurrency", str(concurrency),
        "--warmup", str(warmup), "--duration", str(seconds),
    ))
    cpu_before = bare.cpu_seconds()
    deadline = time.monotonic() + warmup + seconds + 60
    while loadgen.process.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the load generator did not finish")
        await asyncio.sleep(0.1)
    cpu = bare.cpu_seconds() - cpu_before
    bare.stop()
    if loadgen.process.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{loadgen.log()[-3000:]}")
    result = json.loads(loadgen.log().strip().splitlines()[-1])
    return float(result["rps"]), 1000 * cpu / sum(result["answered_in_all"].values())


def verdict(measured: float, goal: float) -> str:
    return "met" if measured >= goal else "missed"
