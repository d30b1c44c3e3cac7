"""Mixed benchmark: a backlog of pages draining at full speed while people click, and the
server's memory on a database of a real size.

    .venv/bin/python -m bench.mixed [--incidents 2000] [--people 10] [--click-rate 20] [--database sqlite]

Drain: on a fresh database, ``ackbot serve`` without a dispatcher takes ``--incidents``
incidents (``--people`` pages each, Twilio SMS to a fake Twilio) and the backlog is held; then an
``ackbot serve`` with its dispatcher on, Slack configured against a fake Slack, opens an
incident that paged Alice on Slack, and the backlog is released. Unmixed: it drains alone.
Mixed (a second, identical database and server): while it drains, ``bench.loadgen`` sends
signed Slack ``block_actions`` clicks (Acknowledge, as in ``bench.interactive``) at
``--click-rate`` per second, open loop, to the same server. Pages/s is the sustained rate (see
``bench.dispatch``); click latency counts from when each click was due.

Size: a database with ``--size-incidents`` incidents and ``--size-pages`` notification rows
(written directly, most of them resolved and sent); ``ackbot serve`` on it answers the incident
list and a few incident reports through the API, and its peak resident memory (VmHWM) is read.

Targets: clicks p99 <= 500 ms and mixed pages/s >= 80 % of unmixed; peak memory < 200 MB. The
bare aiohttp baseline (``bench.reference``) is printed alongside, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import random
from datetime import timedelta

import aiohttp

from bench import dispatch, interactive
from bench.common import (
    SLACK_SIGNING_SECRET,
    Harness,
    Storage,
    ackbot_env,
    add_common_options,
    free_port,
    new_key,
    note,
    print_machine,
    print_table,
    python_module,
    run_main,
    slack_settings,
    start_serve,
    twilio_settings,
)
from bench.reference import bare_aiohttp_rps, verdict
from storage.database import write_transaction
from storage.fields import utcnow
from storage.models import Incident, NotificationLog, User

CLICK_P99_MS, MIXED_SHARE, MEMORY_MB = 500.0, 0.80, 200.0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000, help="incidents in each backlog (20,000 pages: a few hundred clicks)")
    parser.add_argument("--people", type=int, default=10, help="people paged per incident")
    parser.add_argument("--intake-concurrency", type=int, default=16)
    parser.add_argument("--click-rate", type=float, default=20.0, help="Slack clicks per second while draining")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--size-incidents", type=int, default=10_000)
    parser.add_argument("--size-pages", type=int, default=100_000)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: drain, size")
    add_common_options(parser)
    args = parser.parse_args(argv)
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    return args


# --- drain, with and without clicks -----------------------------------------------------------


async def drain(harness: Harness, twilio_url: str, slack_url: str, args, click_seconds: float | None) -> dict:
    """One backlog drained by ``ackbot serve``; with ``click_seconds``, clicked at meanwhile."""
    key = new_key()
    async with Storage(await harness.database(args.database), key) as storage:
        await interactive.seed(storage)
        _, total = await dispatch.queue_backlog(harness, storage, args.database, key, twilio_url, args)
        api_key = await storage.api_key()
        port = free_port()
        env = ackbot_env(harness, storage.url, key, port, ACKBOT_POLL_INTERVAL="0.1",
                         **twilio_settings(twilio_url), **slack_settings(slack_url))
        serve = await start_serve(harness, f"serve-mixed-{'clicks' if click_seconds else 'alone'}", env, port)
        number = await interactive.open_incident(storage, f"http://127.0.0.1:{port}", api_key)
        label = "mixed" if click_seconds else "alone"
        profiler = harness.profile(serve, f"mixed-{label}")
        loadgen = None
        if click_seconds:
            loadgen = harness.start("loadgen-mixed", python_module(
                "bench.loadgen", "--url", f"http://127.0.0.1:{port}/slack/events", "--secret", SLACK_SIGNING_SECRET,
                "--number", str(number), "--response-url", f"{slack_url}/response/bench",
                "--warmup", "0.5", "--duration", f"{click_seconds:.1f}", "--rate", str(args.click_rate),
            ))
        await storage.run(dispatch._set_due, timedelta(seconds=-1))
        await dispatch.wait_until_all_sent(storage, total + 1, [serve], timeout=max(60.0, total / 20))
        harness.end_profile(profiler)
        sent_times, retried = await storage.run(dispatch._sent_times)
        sent_times = sent_times[1:]  # Alice's Slack page went out before the release
        clicks = None
        if loadgen is not None:
            await interactive.wait_exit(loadgen, click_seconds + 60)
            clicks = json.loads(loadgen.log().strip().splitlines()[-1])
        serve.stop()
    span = (sent_times[-1] - sent_times[0]).total_seconds()
    return {"pages": total, "rate": dispatch.sustained_rate(sent_times), "span": span, "retried": retried,
            "clicks": clicks}


# --- size ---------------------------------------------------------------------------------------


def _fill(incidents: int, pages: int) -> int:
    """``incidents`` incidents (all but a few resolved) and ``pages`` pages spread over them and
    the benchmark team; returns the number of an open one."""
    users = [user.id for user in User.select(User.id)]
    now = utcnow()
    rng = random.Random(18)
    for start in range(0, incidents, 1000):
        with write_transaction():
            Incident.insert_many([
                {"title": f"Size incident {index}: disk usage above 90%", "service": "storage",
                 "status": "TRIGGERED" if index % 500 == 0 else "RESOLVED",
                 "triggered_at": now, "created_at": now, "updated_at": now}
                for index in range(start, min(incidents, start + 1000))
            ]).execute()
    ids = [incident.id for incident in Incident.select(Incident.id)]
    for start in range(0, pages, 2000):
        with write_transaction():
            NotificationLog.insert_many([
                {"incident": rng.choice(ids), "user": rng.choice(users), "channel": "SMS", "status": "SENT",
                 "attempt_count": 1, "provider_id": f"SM{index:032d}", "queued_at": now, "sent_at": now,
                 "next_attempt_at": now, "created_at": now, "kind": "ALERT", "tier": "primary"}
                for index in range(start, min(pages, start + 2000))
            ]).execute()
    return Incident.select(Incident.id).where(Incident.status == "TRIGGERED").order_by(Incident.id).first().id


async def size(harness: Harness, twilio_url: str, args) -> list:
    key = new_key()
    async with Storage(await harness.database(args.database), key) as storage:
        await storage.seed_team(dispatch.TEAM, args.people)
        api_key = await storage.api_key()
        note(f"size: writing {args.size_incidents} incidents and {args.size_pages} pages")
        number = await storage.run(_fill, args.size_incidents, args.size_pages)
    port = free_port()
    env = ackbot_env(harness, storage.url, key, port, **twilio_settings(twilio_url))
    serve = await start_serve(harness, "serve-size", env, port)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(3):
            for url in (f"{base}/api/v1/incidents", f"{base}/api/v1/incidents/{number}", f"{base}/api/v1/incidents/1"):
                async with session.get(url) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered {response.status}")
                    await response.read()
    peak, resident = serve.peak_memory_kib()
    serve.stop()
    return [args.database, args.size_incidents, args.size_pages, f"{peak / 1024:.0f}", f"{resident / 1024:.0f}"]


# --- the run ------------------------------------------------------------------------------------


async def main(argv=None) -> None:
    args = parse_args(argv)
    print_machine("bench.mixed")
    async with Harness(args) as harness:
        note("baseline: bare aiohttp")
        bare, bare_cpu = await bare_aiohttp_rps(harness)
        print(f"\nbare aiohttp baseline (same run): {bare:.0f} requests/s, {bare_cpu:.2f} ms CPU a request")
        _, twilio_port = await harness.start_ready("fake-twilio", python_module("bench.fake_providers", "twilio"))
        _, slack_port = await harness.start_ready("fake-slack", python_module("bench.fake_providers", "slack"))
        twilio_url, slack_url = f"http://127.0.0.1:{twilio_port}", f"http://127.0.0.1:{slack_port}"
        targets = []
        if "drain" not in args.skip:
            note("drain alone")
            alone = await drain(harness, twilio_url, slack_url, args, None)
            note(f"drain with {args.click_rate:g} clicks/s")
            mixed = await drain(harness, twilio_url, slack_url, args, max(2.0, alone["span"]))
            clicks = mixed["clicks"]
            print_table(
                ["database", "run", "backlog (pages)", "sustained pages/s", "drain s", "retried", "clicks/s",
                 "click p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "errors"],
                [[args.database, "alone", alone["pages"], f"{alone['rate']:.0f}", f"{alone['span']:.1f}",
                  alone["retried"], "-", "-", "-", "-", "-", "-", "-"],
                 [args.database, f"{args.click_rate:g} clicks/s", mixed["pages"], f"{mixed['rate']:.0f}",
                  f"{mixed['span']:.1f}", mixed["retried"], clicks["rps"], clicks["p50_ms"], clicks["p90_ms"],
                  clicks["p99_ms"], clicks["max_ms"],
                  " ".join(f"{code}x{count}" for code, count in clicks["statuses"].items()) or "-",
                  sum(clicks["errors"].values())]],
                "Backlog drained by ackbot serve, alone and while people click",
            )
            share = mixed["rate"] / alone["rate"]
            targets += [
                [f"click p99 <= {CLICK_P99_MS:g} ms while draining", f"{clicks['p99_ms']} ms",
                 "met" if clicks["p99_ms"] <= CLICK_P99_MS else "missed"],
                [f"pages/s while clicked >= {MIXED_SHARE:.0%} of alone", f"{share:.0%}", verdict(share, MIXED_SHARE)],
            ]
        if "size" not in args.skip:
            row = await size(harness, twilio_url, args)
            print_table(["database", "incidents", "notification rows", "serve peak RSS MB", "RSS MB after"], [row],
                        "Server memory after the incident list and reports, on a database of that size")
            targets.append([f"server memory < {MEMORY_MB:g} MB", f"{row[3]} MB",
                            "met" if float(row[3]) < MEMORY_MB else "missed"])
        print_table(["target", "measured", ""], targets, "Targets")
    print_machine("bench.mixed finished")


if __name__ == "__main__":
    run_main(main)
