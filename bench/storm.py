"""Alert-storm benchmark: ``--alerts`` Alertmanager webhook posts in ``--duration`` seconds over
``--keys`` alert groups (dedup keys), against a real ``ackbot serve`` paging by SMS through a fake
Twilio API in its own process.

    .venv/bin/python -m bench.storm [--alerts 10000] [--duration 60] [--keys 50] [--database sqlite]

Posts go out on a fixed schedule (open loop) with at most ``--concurrency`` in flight; if the
server falls behind, the schedule slips and the achieved rate says so. Each group's first post
opens an incident that pages the team's ``--people`` people by SMS; every later post only counts
on it. Reported: the status-code histogram (must be all 2xx), latency, incidents created and
alerts counted on them, pages sent (rows SENT) and what the provider received, and the server
process's memory (VmRSS before, VmHWM = peak, from /proc/<pid>/status) and CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import aiohttp
from peewee import fn

from bench.common import (
    Harness,
    Storage,
    ackbot_env,
    add_common_options,
    fake_stats,
    free_port,
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
from storage.models import Incident, IntakeSignal, NotificationLog

TEAM = "payments"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000, help="webhook posts to send")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to spread them over")
    parser.add_argument("--keys", type=int, default=50, help="distinct alert groups (dedup keys)")
    parser.add_argument("--people", type=int, default=3, help="people paged per incident")
    parser.add_argument("--concurrency", type=int, default=64, help="most posts in flight at once")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    add_common_options(parser)
    return parser.parse_args(argv)


def alert_group(index: int, key: int) -> dict:
    """What Alertmanager posts for group ``key`` (one firing alert, from a varying instance)."""
    name = f"HighErrorRate{key:02d}"
    labels = {"alertname": name, "team": TEAM, "severity": "critical", "service": f"svc-{key:02d}"}
    return {
        "version": "4", "groupKey": f'{{}}/{{team="{TEAM}"}}:{{alertname="{name}"}}', "status": "firing",
        "receiver": "ackbot", "groupLabels": {"alertname": name}, "commonLabels": labels,
        "commonAnnotations": {"summary": f"svc-{key:02d}: 5xx rate above 5%"},
        "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing", "labels": {**labels, "instance": f"10.0.{key}.{index % 250}:9100"},
            "annotations": {"summary": f"svc-{key:02d}: 5xx rate above 5%",
                            "description": f"error ratio {5 + index % 7}% on 10.0.{key}.{index % 250}"},
            "startsAt": "2026-11-28T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=job%3Arequest_errors%3Aratio",
            "fingerprint": f"{key:04x}{index:08x}",
        }],
    }


def _figures() -> dict:

    statuses = dict(NotificationLog.select(NotificationLog.status, fn.COUNT(NotificationLog.id))
                    .group_by(NotificationLog.status).tuples())
    return {
        "incidents": Incident.select().count(),
        "alerts_counted": Incident.select(fn.COALESCE(fn.SUM(Incident.alert_count), 0)).scalar(),
        "notifications": statuses,
        "inbox": IntakeSignal.select().where(IntakeSignal.failed_at.is_null()).count(),
        "inbox_failed": IntakeSignal.select().where(IntakeSignal.failed_at.is_null(False)).count(),
    }


async def storm(base: str, api_key: str, args) -> tuple[Counter, list[tuple[float, float]], float, Counter]:
    """Returns the status histogram, (seconds into the storm, latency) per answered post, the time
    taken, and transport errors."""
    statuses: Counter = Counter()
    errors: Counter = Counter()
    latencies: list[tuple[float, float]] = []
    slots = asyncio.Semaphore(args.concurrency)
    headers = {"Authorization": f"Bearer {api_key}"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def post(index: int) -> None:
            try:
                started = time.monotonic()
                async with session.post(f"{base}/webhooks/alertmanager", json=alert_group(index, index % args.keys),
                                        headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
                latencies.append((started - begin, time.monotonic() - started))
            except (TimeoutError, aiohttp.ClientError) as error:
                errors[type(error).__name__] += 1
            finally:
                slots.release()

        tasks = []
        begin = time.monotonic()
        for index in range(args.alerts):
            delay = begin + index * args.duration / args.alerts - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            tasks.append(asyncio.create_task(post(index)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - begin
    return statuses, latencies, elapsed, errors


async def settle(storage: Storage, serve, timeout: float = 120.0) -> dict:
    """The figures once no alert waits in the intake inbox and no page is waiting or being sent
    any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        figures = await storage.run(_figures)
        waiting = sum(count for status, count in figures["notifications"].items() if status in ("QUEUED", "SENDING"))
        if not waiting and not figures["inbox"]:
            return figures
        serve.check_alive()
        await asyncio.sleep(0.2)
    raise TimeoutError("alerts or pages still waiting after the storm")


async def main(argv=None) -> None:
    args = parse_args(argv)
    print_machine("bench.storm")
    async with Harness(args) as harness:
        _, twilio_port = await harness.start_ready("fake-twilio", python_module("bench.fake_providers", "twilio"))
        twilio_url = f"http://127.0.0.1:{twilio_port}"
        database_url, key = await harness.database(args.database), new_key()
        async with Storage(database_url, key) as storage:
            await storage.seed_team(TEAM, args.people)
            api_key = await storage.api_key()
            port = free_port()
            env = ackbot_env(harness, database_url, key, port, **twilio_settings(twilio_url))
            serve = await start_serve(harness, "serve-storm", env, port)
            _, rss_before = serve.peak_memory_kib()
            cpu_before = serve.cpu_seconds()
            profiler = harness.profile(serve, "storm-serve")
            note(f"{args.alerts} posts over {args.duration:g} s")
            statuses, latencies, elapsed, errors = await storm(f"http://127.0.0.1:{port}", api_key, args)
            harness.end_profile(profiler)
            cpu = (serve.cpu_seconds() - cpu_before) / elapsed
            figures = await settle(storage, serve)
            peak, rss_after = serve.peak_memory_kib()
            provider = (await fake_stats(twilio_url))["messages"]

    sent = sum(count for status, count in figures["notifications"].items() if status in ("SENT", "DELIVERED"))
    every = [latency for _, latency in latencies]
    settled = [latency for at, latency in latencies if at >= 2.0]
    histogram = " ".join(f"{code}x{count}" for code, count in sorted(statuses.items()))
    all_2xx = sum(statuses.values()) == args.alerts and all(200 <= code < 300 for code in statuses) and not errors
    rows = [
        ["database", args.database],
        ["posts sent / planned", f"{sum(statuses.values()) + sum(errors.values())} / {args.alerts}"],
        ["time taken (planned)", f"{elapsed:.1f} s ({args.duration:g} s)"],
        ["posts/s achieved", f"{args.alerts / elapsed:.0f}"],
        ["status codes", histogram + (f"; errors {dict(errors)}" if errors else "")],
        ["latency p50 / p99 / max ms", f"{ms(percentile(every, 0.5))} / {ms(percentile(every, 0.99))} / {ms(max(every))}"],
        ["  the same after the first 2 s", f"{ms(percentile(settled, 0.5))} / {ms(percentile(settled, 0.99))} / "
                                           f"{ms(max(settled, default=float('nan')))}"],
        ["incidents created (dedup keys)", f"{figures['incidents']} ({args.keys})"],
        ["alerts counted on incidents", figures["alerts_counted"]],
        ["alerts that failed in the inbox", figures["inbox_failed"]],
        ["pages SENT (expected)", f"{sent} ({figures['incidents'] * args.people})"],
        ["pages by status", " ".join(f"{status}={count}" for status, count in sorted(figures["notifications"].items()))],
        ["SMS the provider received", provider],
        ["server VmRSS before", f"{rss_before / 1024:.1f} MiB"],
        ["server VmHWM (peak)", f"{peak / 1024:.1f} MiB"],
        ["server VmRSS after", f"{rss_after / 1024:.1f} MiB"],
        ["server CPU during the storm", f"{cpu:.2f} of a core"],
    ]
    print_table(["alert storm", ""], rows,
                f"{args.alerts} Alertmanager posts over {args.keys} groups, {args.people} people paged per incident")
    print_table(["target", "measured", ""], [
        ["every post answered 2xx", histogram, "met" if all_2xx else "missed"],
        [f"every alert counted on its incident ({args.alerts})", figures["alerts_counted"],
         "met" if figures["alerts_counted"] == args.alerts else "missed"],
        [f"one incident per dedup key ({args.keys})", figures["incidents"],
         "met" if figures["incidents"] == args.keys else "missed"],
        [f"planned rate kept ({args.alerts / args.duration:.0f}/s)", f"{args.alerts / elapsed:.0f}/s",
         "met" if elapsed <= args.duration * 1.05 else "missed"],
    ], "Targets")
    print_machine("bench.storm finished")


if __name__ == "__main__":
    run_main(main)
