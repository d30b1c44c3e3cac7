"""Dispatch benchmark: incidents/s in, notifications/s out, and the time from an intake request to
the first provider request, on SQLite and PostgreSQL, for 1 and 2 processes.

    .venv/bin/python -m bench.dispatch [--backends sqlite,postgres] [--processes 1,2] ...

Everything is real except the provider: ``ackbot serve`` and ``ackbot worker`` processes, the
Twilio SMS channel (the ``twilio`` SDK over aiohttp) sending to a fake Twilio API in its own
process. Each person in the benchmark team has a phone and SMS as their first tier.

Throughput (per database and process count): ``ackbot serve`` with ACKBOT_DISPATCHER=false takes
``--incidents`` incidents through ``POST /api/v1/incidents`` (``--intake-concurrency`` at a time:
the "incidents/s in" figure), each paging ``--people`` people; then the backlog is held (due in
a day), N ``ackbot worker`` processes are started and, once all are ready, released at once. The
sustained rate counts rows SENT after the first recorded batch over the time from that batch to
the last (from ``sent_at``); the wall rate is backlog / (all SENT - release). The same is measured
with ``bench.null_worker`` (a channel that sends nothing): the engine's own ceiling.

Latency: ``ackbot serve`` with its dispatcher on (plus N-1 ``ackbot worker`` processes) gets
each of a few offered rates (``--rates``, multiples of the intake target) for ``--seconds``
seconds on a fixed schedule (open loop), each incident paging ``--latency-people`` people, a
fresh database and server per rate. Latency = when the fake Twilio received the first SMS about
the incident - when the client sent the intake request (one machine, one clock). An alert
answered 202 (kept in the intake inbox: the server was past its intake budget) is counted, and
must be paged like every incident answered 201.

Every target is a ratio to a bare aiohttp handler's requests/s measured at the start of the same
run (``bench.reference``).
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import time
from datetime import timedelta

import aiohttp

from bench.common import (
    Harness,
    Storage,
    ackbot_command,
    ackbot_env,
    add_common_options,
    fake_stats,
    free_port,
    machine_busy_seconds,
    ms,
    new_key,
    note,
    percentile,
    print_machine,
    print_table,
    python_module,
    run_main,
    start_serve,
    twilio_settings,
)
from bench.reference import bare_aiohttp_rps, verdict
from storage.database import write_transaction
from storage.fields import utcnow
from storage.models import Incident, IntakeSignal, NotificationLog

TEAM = "bench"
SENT_STATUSES = ("SENT", "DELIVERED")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--processes", default="1,2", help="comma-separated dispatcher process counts")
    parser.add_argument("--incidents", type=int, default=600, help="incidents in the throughput backlog")
    parser.add_argument("--people", type=int, default=10, help="people paged per incident (throughput)")
    parser.add_argument("--intake-concurrency", type=int, default=16)
    parser.add_argument("--rates", default="0.5,1,1.5,2",
                        help="offered intake rates to try, as multiples of the target (3%% of bare aiohttp's requests/s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each latency run")
    parser.add_argument("--latency-people", type=int, default=3, help="people paged per incident (latency)")
    parser.add_argument("--poll-interval", default="0.1", help="ACKBOT_POLL_INTERVAL of the workers")
    parser.add_argument("--batch-size", default="", help="ACKBOT_BATCH_SIZE (default: Ackbot's)")
    parser.add_argument("--intake-wait-ms", default="", help="ACKBOT_INTAKE_WAIT_MS (default: Ackbot's)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: throughput, null, latency")
    add_common_options(parser)
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    args.processes = [int(count) for count in args.processes.split(",") if count.strip()]
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    args.rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    return args


def engine_settings(args) -> dict:
    settings = {"ACKBOT_POLL_INTERVAL": args.poll_interval}
    if args.batch_size:
        settings["ACKBOT_BATCH_SIZE"] = args.batch_size
    if args.intake_wait_ms:
        settings["ACKBOT_INTAKE_WAIT_MS"] = args.intake_wait_ms
    return settings


# --- queries (run inside Storage.run) -------------------------------------------------------


def _count(*statuses) -> int:
    return NotificationLog.select().where(NotificationLog.status.in_(statuses)).count()


def _set_due(delta: timedelta) -> int:
    with write_transaction():
        return NotificationLog.update(next_attempt_at=utcnow() + delta).where(
            NotificationLog.status == "QUEUED"
        ).execute()


def _sent_times() -> tuple[list, int]:
    sent = [moment for (moment,) in NotificationLog.select(NotificationLog.sent_at).where(
        NotificationLog.status.in_(SENT_STATUSES)).tuples()]
    retried = NotificationLog.select().where(NotificationLog.attempt_count > 1).count()
    return sorted(sent), retried


# --- intake -----------------------------------------------------------------------------------


def incident_body(index: int) -> dict:
    return {"title": f"Benchmark incident {index}: checkout latency above SLO", "service": "checkout",
            "team": TEAM, "priority": "CRITICAL", "dedup_key": dedup_key(index)}


def dedup_key(index: int) -> str:
    return f"bench-{index}"


async def post_incident(session: aiohttp.ClientSession, base: str, api_key: str, index: int) -> tuple[int, dict]:
    async with session.post(f"{base}/api/v1/incidents", json=incident_body(index),
                            headers={"Authorization": f"Bearer {api_key}"}) as response:
        return response.status, await response.json()


async def intake(base: str, api_key: str, incidents: int, concurrency: int) -> float:
    """Post ``incidents`` incidents, ``concurrency`` at a time; returns incidents/s."""
    pending = iter(range(incidents))
    statuses: dict[int, int] = {}

    async def client(session):
        for index in pending:
            status, _ = await post_incident(session, base, api_key, index)
            statuses[status] = statuses.get(status, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if set(statuses) - {201, 202} or sum(statuses.values()) != incidents:
        raise RuntimeError(f"intake answered {statuses}")
    return incidents / elapsed


# --- throughput ---------------------------------------------------------------------------------


async def drain(harness: Harness, backend: str, processes: int, channel: str, twilio_url: str, args) -> list:
    """Queue a backlog, drain it with ``processes`` workers on ``channel``; one table row."""
    database_url, key = await harness.database(backend), new_key()
    async with Storage(database_url, key) as storage:
        incidents_in, total = await queue_backlog(harness, storage, backend, key, twilio_url, args)
        worker_env = ackbot_env(harness, database_url, key, **twilio_settings(twilio_url), **engine_settings(args))
        command = ackbot_command("worker") if channel == "twilio" else python_module("bench.null_worker")
        workers = [harness.start(f"worker-{channel}-{backend}-{index}", command, worker_env) for index in range(processes)]
        for worker in workers:
            await worker.wait_for_log(r"worker \S+ started")
        before = await fake_messages(twilio_url)
        profilers = [harness.profile(worker, f"drain-{backend}-{processes}-{channel}-{index}")
                     for index, worker in enumerate(workers)]
        cpu_before = sum(worker.cpu_seconds() for worker in workers)
        machine_before = machine_busy_seconds()

        await storage.run(_set_due, timedelta(seconds=-1))  # the gate opens: every worker is ready
        released = time.time()
        done = await wait_until_all_sent(storage, total, workers, timeout=max(60.0, total / 10))
        wall = time.time() - released
        cpu = (sum(worker.cpu_seconds() for worker in workers) - cpu_before) / wall
        machine = (machine_busy_seconds() - machine_before) / wall
        for profiler in profilers:
            harness.end_profile(profiler)
        sent_times, retried = await storage.run(_sent_times)
        for worker in workers:
            worker.stop()
        provider_requests = await fake_messages(twilio_url) - before if channel == "twilio" else "-"
    return [backend, processes, "twilio sms" if channel == "twilio" else "null (no HTTP)", total,
            f"{incidents_in:.0f}", f"{sustained_rate(sent_times):.0f}", f"{done / wall:.0f}", f"{cpu:.2f}",
            f"{1000 * cpu / (done / wall):.2f}", f"{machine:.2f} of {os.cpu_count()}", total - len(sent_times), retried,
            provider_requests]


async def queue_backlog(harness: Harness, storage: Storage, backend: str, key: str, twilio_url: str, args):
    """Take ``--incidents`` incidents in through the intake API of an ``ackbot serve`` without a
    dispatcher, then hold every page they queued (due in a day). Returns (incidents/s, pages)."""
    await storage.seed_team(TEAM, args.people)
    api_key = await storage.api_key()
    port = free_port()
    env = ackbot_env(harness, storage.url, key, port, ACKBOT_DISPATCHER="false", **twilio_settings(twilio_url))
    serve = await start_serve(harness, f"serve-intake-{backend}", env, port)
    profiler = harness.profile(serve, f"intake-{backend}")
    incidents_in = await intake(f"http://127.0.0.1:{port}", api_key, args.incidents, args.intake_concurrency)
    await wait_until_worked(storage, serve)  # alerts kept in the intake inbox (answered 202) open their incidents
    harness.end_profile(profiler)
    serve.stop()
    total = await storage.run(_count, "QUEUED")
    if total != args.incidents * args.people:
        raise RuntimeError(f"expected {args.incidents * args.people} queued pages, found {total}")
    await storage.run(_set_due, timedelta(days=1))
    return incidents_in, total


def sustained_rate(sent_times: list) -> float:
    """Pages recorded after the first batch, over the time from that batch to the last page: the
    steady rate, without start-up or the first claim."""
    first, last = sent_times[0], sent_times[-1]
    span = (last - first).total_seconds()
    return sum(1 for moment in sent_times if moment > first) / span if span > 0 else float("nan")


async def wait_until_all_sent(storage: Storage, total: int, workers, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = await storage.run(_count, *SENT_STATUSES, "FAILED")
        if finished >= total:
            return finished
        for worker in workers:
            worker.check_alive()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not every page was sent within {timeout:g}s")


async def fake_messages(twilio_url: str) -> int:
    return (await fake_stats(twilio_url))["messages"]


# --- latency ------------------------------------------------------------------------------------


async def latency(harness: Harness, backend: str, processes: int, rate: float, twilio_url: str, args) -> list:
    """Incidents at ``rate``/s into ``ackbot serve`` (+ N-1 workers); one table row."""
    database_url, key = await harness.database(backend), new_key()
    async with Storage(database_url, key) as storage:
        await storage.seed_team(TEAM, args.latency_people)
        api_key = await storage.api_key()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = ackbot_env(harness, database_url, key, port, **twilio_settings(twilio_url), **engine_settings(args))
    serve = await start_serve(harness, f"serve-latency-{backend}", env, port)
    worker_env = ackbot_env(harness, database_url, key, **twilio_settings(twilio_url), **engine_settings(args))
    workers = [harness.start(f"worker-latency-{backend}-{index}", ackbot_command("worker"), worker_env)
               for index in range(processes - 1)]
    for worker in workers:
        await worker.wait_for_log(r"worker \S+ started")

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{twilio_url}/_bench/reset") as response:
            response.raise_for_status()  # incident numbers start again at 1 in each new database
        for index in range(10):  # warm-up: connections to the database and the provider
            await post_incident(session, base, api_key, -1 - index)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        profiler = harness.profile(serve, f"latency-{backend}-{processes}-serve")
        cpu_before, started = serve.cpu_seconds(), time.monotonic()
        handled_before = await intake_handled(session, base)
        sent_at, answered, kept, achieved = await open_loop(session, base, api_key, rate, args.seconds)
        handled = {bound: count - handled_before[bound] for bound, count in (await intake_handled(session, base)).items()}
        cpu = (serve.cpu_seconds() - cpu_before) / (time.monotonic() - started)
        harness.end_profile(profiler)
    sent_at.update(await numbers_of_kept(storage_url=database_url, key=key, kept=kept, serve=serve))

    arrivals = await wait_for_arrivals(twilio_url, set(sent_at), serve)
    serve.stop()
    for worker in workers:
        worker.stop()
    delays = [arrivals[number] - started for number, started in sent_at.items()]
    within = handled[HANDLED_WITHIN] / handled["+Inf"] if handled["+Inf"] else float("nan")
    return [backend, processes, args.latency_people, f"{rate:.0f}", f"{achieved:.1f}", len(delays), len(kept), f"{cpu:.2f}",
            ms(percentile(answered, 0.5)), ms(percentile(answered, 0.99)), f"{within:.1%}",
            ms(percentile(delays, 0.5)), ms(percentile(delays, 0.9)), ms(percentile(delays, 0.99)), ms(max(delays))]


HANDLED_WITHIN = "0.25"


async def intake_handled(session, base: str) -> dict[str, float]:
    """The server's own count of intake requests handled within each bound (its
    ``ackbot_request_seconds`` histogram, surface "api"): {bound in seconds as written: count}."""
    async with session.get(f"{base}/metrics") as response:
        text = await response.text()
    lines = re.findall(r"^ackbot_request_seconds_bucket\{([^}]*)\} (\S+)$", text, re.MULTILINE)
    return {re.search(r'le="([^"]+)"', labels).group(1): float(count)  # type: ignore[union-attr]
            for labels, count in lines if 'surface="api"' in labels}


async def open_loop(session, base: str, api_key: str, rate: float, seconds: float):
    """``rate`` incidents/s for ``seconds`` on a fixed schedule, whatever the answers take.
    Returns {incident number: time.time() the request was sent}, the answer times, {dedup key:
    time.time() the request was sent} of those kept in the intake inbox (202: no number yet),
    the rate kept up."""
    sent_at: dict[int, float] = {}
    answered: list[float] = []
    kept: dict[str, float] = {}

    async def one(index: int) -> None:
        started = time.time()
        status, body = await post_incident(session, base, api_key, index)
        answered.append(time.time() - started)
        if status == 202:
            kept[body["dedup_key"]] = started
            return
        if status != 201:
            raise RuntimeError(f"intake answered {status}: {body}")
        sent_at[body["number"]] = started

    count = int(rate * seconds)
    tasks = []
    begin = time.monotonic() + 0.1
    for index in range(count):
        delay = begin + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return sent_at, answered, kept, count / (time.monotonic() - begin)


def _open_numbers(keys: list[str]) -> dict[str, int]:
    rows = Incident.select(Incident.dedup_key, Incident.id).where(Incident.dedup_key.in_(keys)).tuples()
    return dict(rows)


def _signals_left() -> int:
    return IntakeSignal.select().count()


async def numbers_of_kept(storage_url: str, key: str, kept: dict[str, float], serve, timeout: float = 60.0) -> dict[int, float]:
    """{incident number: when its request was sent} for the requests kept in the intake inbox,
    once the inbox has opened every one of them."""
    if not kept:
        return {}
    async with Storage(storage_url, key) as storage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            numbers = await storage.run(_open_numbers, list(kept))
            if len(numbers) == len(kept):
                return {number: kept[dedup] for dedup, number in numbers.items()}
            serve.check_alive()
            await asyncio.sleep(0.1)
    raise TimeoutError("some kept alerts never opened an incident")


async def wait_until_worked(storage: Storage, serve, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while await storage.run(_signals_left):
        if time.monotonic() > deadline:
            raise TimeoutError("the intake inbox was not worked")
        serve.check_alive()
        await asyncio.sleep(0.1)


async def wait_for_arrivals(twilio_url: str, numbers: set[int], serve, timeout: float = 60.0) -> dict[int, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = {int(number): at for number, at in (await fake_stats(twilio_url))["first_arrival"].items()}
        if numbers <= arrivals.keys():
            return arrivals
        serve.check_alive()
        await asyncio.sleep(0.2)
    raise TimeoutError("some incidents never reached the provider")


# --- the run ------------------------------------------------------------------------------------

THROUGHPUT_HEADERS = [
    "database", "processes", "channel", "backlog (pages)", "incidents/s in", "sustained pages/s out",
    "wall pages/s out", "worker CPU (cores)", "CPU ms/page", "machine busy (cores)", "failed", "retried", "provider requests",
]
LATENCY_HEADERS = [
    "database", "processes", "people/incident", "offered/s", "sent/s", "paged", "kept (202)", "serve CPU", "intake p50 ms", "intake p99 ms",
    f"handled <= {HANDLED_WITHIN} s (server)",
    "first SMS p50 ms", "p90 ms", "p99 ms", "max ms",
]


async def main(argv=None) -> None:
    args = parse_args(argv)
    print_machine("bench.dispatch")
    async with Harness(args) as harness:
        note("baseline: bare aiohttp")
        bare, bare_cpu = await bare_aiohttp_rps(harness)
        print(f"\nbare aiohttp baseline (same run): {bare:.0f} requests/s, {bare_cpu:.2f} ms CPU a request")
        _, twilio_port = await harness.start_ready("fake-twilio", python_module("bench.fake_providers", "twilio"))
        twilio_url = f"http://127.0.0.1:{twilio_port}"
        throughput, latencies = [], []
        channels = [channel for channel in ("twilio", "null") if not (channel == "null" and "null" in args.skip)]
        for backend in args.backends:
            for processes in args.processes:
                if "throughput" not in args.skip:
                    for channel in channels:
                        note(f"throughput: {backend}, {processes} process(es), {channel}")
                        throughput.append(await drain(harness, backend, processes, channel, twilio_url, args))
                if "latency" not in args.skip:
                    for multiple in args.rates:
                        rate = max(1.0, math.ceil(multiple * INTAKE_SHARE * bare))  # 1x is the target itself
                        note(f"latency: {backend}, {processes} process(es), {rate:g} incidents/s")
                        latencies.append(await latency(harness, backend, processes, rate, twilio_url, args))
        if throughput:
            print_table(THROUGHPUT_HEADERS, throughput, "Throughput (backlog drained by N dispatcher processes)")
        if latencies:
            print_table(LATENCY_HEADERS, latencies,
                        f"Intake request -> first provider request, each offered rate for {args.seconds:g} s")
        print_targets(throughput, latencies, bare, bare_cpu)
    print_machine("bench.dispatch finished")


ENGINE_SHARE, TWILIO_SHARE, INTAKE_SHARE, SCALE_UP = 0.40, 0.30, 0.03, 1.6


def print_targets(throughput: list, latencies: list, bare: float, bare_cpu: float) -> None:
    """Each target as measured / bare aiohttp's requests/s; for throughput also as bare
    aiohttp's CPU per request / the worker's CPU per page (the same share when both are held back
    by nothing but their own CPU; less sensitive to a busy machine)."""
    rows = []
    for row in throughput:
        share = ENGINE_SHARE if row[2].startswith("null") else TWILIO_SHARE
        rate, cpu_share = float(row[5]), bare_cpu / float(row[8])
        rows.append([f"{row[2]}, {row[0]}, {row[1]} process(es): sustained >= {share:.0%} of bare aiohttp",
                     f"{rate:.0f}/s = {rate / bare:.1%}; by CPU {cpu_share:.1%}", verdict(rate / bare, share)])
    for channel in ("twilio sms", "null (no HTTP)"):
        by_processes = {row[1]: row for row in throughput if row[0] == "postgres" and row[2] == channel}
        if 1 in by_processes and 2 in by_processes:
            ratio = float(by_processes[2][5]) / float(by_processes[1][5])
            rows.append([f"{channel}, postgres: two processes >= {SCALE_UP:g}x one",
                         f"{ratio:.2f}x (machine busy {by_processes[2][9]} cores)", verdict(ratio, SCALE_UP)])
    for key in sorted({(row[0], row[1]) for row in latencies}):
        fast = [float(row[3]) for row in latencies if (row[0], row[1]) == key and float(row[13]) < 1000]
        best = max(fast, default=0.0)
        rows.append([f"intake, {key[0]}, {key[1]} process(es): highest rate with first-page p99 < 1 s"
                     f" >= {INTAKE_SHARE:.0%} of bare aiohttp", f"{best:.0f}/s = {best / bare:.1%}",
                     verdict(best / bare, INTAKE_SHARE)])
    if rows:
        print_table(["target", "measured / bare aiohttp", ""], rows, "Targets")


if __name__ == "__main__":
    run_main(main)
