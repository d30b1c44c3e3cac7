"""Interactive benchmark: signed Slack ``block_actions`` clicks per second and their latency at
64 concurrent connections, against Ackbot and two baselines measured in the same run, so the
result is a ratio.

    .venv/bin/python -m bench.interactive [--duration 10] [--warmup 2] [--concurrency 64] [--rounds 1]

Targets, each its own process on 127.0.0.1, loaded in turn by ``bench.loadgen`` (a process of
its own) for ``--warmup`` + ``--duration`` seconds:

- bare aiohttp: a handler that only checks the signature (``bench.baselines bare``);
- bare Bolt: an ``AsyncApp`` whose action only acks (``bench.baselines bolt``);
- Ackbot: ``ackbot serve`` with Slack configured against a fake Slack API process, a workspace
  installation, and Alice (on the incident's team, linked to Slack user UALICE) clicking
  Acknowledge on an open incident that paged her on Slack. The first click acknowledges it; every
  later one is answered "already acknowledged by Alice" through the response_url, as in real life.
  Ackbot runs as deployed (access log at INFO) and again with ACKBOT_LOG_LEVEL=WARNING; then it
  gets ``--open-rate`` clicks/s on a fixed schedule (open loop), a realistic rate rather than a
  saturating one.

Then ``--burst`` clicks at once, each on its own connection, against bare Bolt and Ackbot. The
targets of issue 18 are printed as measured / baseline of the same run: Ackbot's clicks/s at
least 25 % of bare Bolt's, its p99 at most 10x bare Bolt's, and of the burst none answered after
Slack's 3 seconds.

Ackbot answers Slack before it acts, so the HTTP figures leave out the work after the answer; the
"follow-ups" column counts the replies that work sent to the fake Slack's response_url (every
click but the first should have one).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass

import aiohttp

from bench.common import (
    SLACK_BOT_TOKEN,
    SLACK_CLIENT_ID,
    SLACK_SIGNING_SECRET,
    Child,
    Harness,
    Storage,
    ackbot_env,
    add_common_options,
    fake_stats,
    free_port,
    new_key,
    note,
    print_machine,
    print_table,
    python_module,
    run_main,
    slack_settings,
    start_serve,
)
from storage.models import IncidentEvent, NotificationLog, SlackConnection, SlackInstallation, User

PEOPLE = """
[[teams]]
name = "payments"

[[users]]
handle = "alice"
name = "Alice"
email = "alice@example.com"
teams = ["payments"]
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.interactive", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each measurement")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="times to go through every target")
    parser.add_argument("--open-rate", type=float, default=50.0,
                        help="also click Ackbot at this many clicks/s, open loop (0: skip)")
    parser.add_argument("--burst", type=int, default=256, help="clicks sent at once to bare Bolt and Ackbot (0: skip)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    add_common_options(parser)
    return parser.parse_args(argv)


def _seed_slack() -> None:
    alice = User.get(User.handle == "alice")
    SlackConnection.create(user=alice, slack_user_id="UALICE", slack_team_id="T1")
    SlackInstallation.create(
        client_id=SLACK_CLIENT_ID, app_id="A1", team_id="T1", team_name="Acme", bot_token=SLACK_BOT_TOKEN,
        bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write,commands,im:write,users:read,users:read.email",
        user_id="UINSTALLER", token_type="bot",
    )


def _slack_pages_sent() -> int:
    return NotificationLog.select().where(
        (NotificationLog.channel == "SLACK") & NotificationLog.status.in_(("SENT", "DELIVERED"))
    ).count()


def _acknowledgements() -> int:
    return IncidentEvent.select().where(IncidentEvent.kind == "ACKNOWLEDGED").count()


async def seed(storage: Storage) -> str:
    """Alice on team payments, linked to Slack user UALICE of an installed workspace; returns an
    intake API key."""
    await storage.apply_people(PEOPLE)
    await storage.run(_seed_slack)
    return await storage.api_key()


async def open_incident(storage: Storage, base: str, api_key: str) -> int:
    """An incident that paged Alice on Slack; returns its number once the page is out."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {api_key}"},
                                json={"title": "DB primary down", "service": "db", "team": "payments",
                                      "priority": "CRITICAL"}) as response:
            body = await response.json()
            if response.status != 201:
                raise RuntimeError(f"intake answered {response.status}: {body}")
    deadline = time.monotonic() + 30
    while await storage.run(_slack_pages_sent) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("Alice's Slack page was never sent")
        await asyncio.sleep(0.1)
    return body["number"]


async def load(harness: Harness, target: Target, number: int, slack_url: str, args, burst: int = 0) -> dict:
    """Run the load generator against ``target``; its figures, plus ``server_cpu``: the share of
    one core the target used over the whole run (warm-up included). With ``burst``: that many
    clicks at once instead."""
    cpu_before, started = target.child.cpu_seconds(), time.monotonic()
    timing = ("--warmup", "0", "--duration", str(BURST_WAIT_SECONDS)) if burst else (
        "--warmup", str(args.warmup), "--duration", str(args.duration))
    child = harness.start(f"loadgen-{target.child.name}", python_module(
        "bench.loadgen", "--url", f"http://127.0.0.1:{target.port}/slack/events", "--secret", SLACK_SIGNING_SECRET,
        "--number", str(number), "--response-url", f"{slack_url}/response/bench",
        "--concurrency", str(args.concurrency), *timing, "--rate", str(target.rate), "--burst", str(burst),
    ))
    await wait_exit(child, args.warmup + args.duration + BURST_WAIT_SECONDS + 60)
    result = json.loads(child.log().strip().splitlines()[-1])
    result["server_cpu"] = round((target.child.cpu_seconds() - cpu_before) / (time.monotonic() - started), 2)
    return result


async def wait_exit(child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while child.process.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} still running after {timeout:g}s")
        await asyncio.sleep(0.1)
    if child.process.returncode != 0:
        raise RuntimeError(f"{child.name} failed:\n{child.log()[-3000:]}")


async def settled_replies(slack_url: str, before: int, timeout: float = 60.0) -> int:
    """response_url replies since ``before``, once they stop coming."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = (await fake_stats(slack_url)).get("response_url", 0) - before
        if now == last:
            return now
        last = now
        await asyncio.sleep(1.0)
    return last


@dataclass
class Target:
    name: str
    child: Child
    port: int
    ackbot: bool = False
    rate: float = 0.0  # clicks/s, open loop; 0: closed loop over every connection


async def start_ackbot(harness: Harness, storage: Storage, slack_url: str, args) -> tuple[list[Target], int]:
    """Ackbot twice (access log at INFO, as deployed, and at WARNING) on one seeded database, and
    the incident the clicks act on."""
    api_key = await seed(storage)
    servers = []
    for level in ("INFO", "WARNING"):
        port = free_port()
        env = ackbot_env(harness, storage.url, storage.key, port, ACKBOT_LOG_LEVEL=level, **slack_settings(slack_url))
        servers.append((await start_serve(harness, f"serve-{level.lower()}", env, port), port))
    number = await open_incident(storage, f"http://127.0.0.1:{servers[0][1]}", api_key)
    (info, info_port), (quiet, quiet_port) = servers
    targets = [Target("Ackbot /slack/events", info, info_port, ackbot=True),
               Target("Ackbot, log level WARNING", quiet, quiet_port, ackbot=True)]
    if args.open_rate:
        targets.append(Target(f"Ackbot, {args.open_rate:g} clicks/s open loop", info, info_port, ackbot=True,
                              rate=args.open_rate))
    return targets, number


async def measure(harness: Harness, targets: list[Target], number: int, slack_url: str, round_number: int, args):
    rows = []
    for target in targets:
        note(f"round {round_number}: {target.name}")
        before = (await fake_stats(slack_url)).get("response_url", 0)
        profiler = harness.profile(target.child, f"interactive-{target.child.name}-{round_number}") if target.ackbot else None
        result = await load(harness, target, number, slack_url, args)
        harness.end_profile(profiler)
        follow_ups = await settled_replies(slack_url, before) if target.ackbot else None
        rows.append([
            round_number, target.name, result["rps"], "-" if target.rate else result["rps"],
            result["p50_ms"], result["p90_ms"], result["p99_ms"], result["max_ms"],
            " ".join(f"{code}x{count}" for code, count in result["statuses"].items()) or "-",
            sum(result["errors"].values()), result["server_cpu"], result["client_cpu"],
            "-" if follow_ups is None else f"{follow_ups}/{sum(result['answered_in_all'].values())}",
        ])
    bolt_rps = next(row[2] for row in rows if row[1] == BOLT)
    for row in rows:
        row[2] = f"{row[2]:.0f}"
        row[3] = "-" if row[3] == "-" else f"{100 * row[3] / bolt_rps:.0f}%"
    return rows


BOLT = "bare Bolt AsyncApp (ack only)"
BURST_WAIT_SECONDS = 10.0


async def measure_bursts(harness: Harness, targets: list[Target], number: int, slack_url: str, args) -> list:
    """``--burst`` clicks at once against bare Bolt and Ackbot (as deployed): [target, answered,
    answered after 3 s (or not at all), p99 ms, max ms]."""
    rows = []
    for target in targets:
        note(f"burst of {args.burst} clicks: {target.name}")
        result = await load(harness, target, number, slack_url, args, burst=args.burst)
        rows.append([target.name, sum(result["statuses"].values()), result["late"], result["p99_ms"], result["max_ms"]])
        if target.ackbot:
            await settled_replies(slack_url, 0)
    return rows


async def main(argv=None) -> None:
    args = parse_args(argv)
    print_machine("bench.interactive")
    async with Harness(args) as harness:
        _, slack_port = await harness.start_ready("fake-slack", python_module("bench.fake_providers", "slack"))
        slack_url = f"http://127.0.0.1:{slack_port}"
        bare, bare_port = await harness.start_ready("bare", python_module(
            "bench.baselines", "bare", "--signing-secret", SLACK_SIGNING_SECRET))
        bolt, bolt_port = await harness.start_ready("bolt", python_module(
            "bench.baselines", "bolt", "--signing-secret", SLACK_SIGNING_SECRET, "--slack-api-url", slack_url,
            "--token", SLACK_BOT_TOKEN))
        async with Storage(await harness.database(args.database), new_key()) as storage:
            ackbot, number = await start_ackbot(harness, storage, slack_url, args)
            targets = [Target("bare aiohttp (signature only)", bare, bare_port), Target(BOLT, bolt, bolt_port), *ackbot]
            rows = []
            for round_number in range(1, args.rounds + 1):
                rows += await measure(harness, targets, number, slack_url, round_number, args)
            bursts = await measure_bursts(harness, [targets[1], targets[2]], number, slack_url, args) if args.burst else []
            acknowledgements = await storage.run(_acknowledgements)
        print_table(
            ["round", "target", "clicks/s", "of Bolt", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "errors",
             "server CPU", "loadgen CPU", "follow-ups/clicks"],
            rows, f"Signed block_actions clicks, {args.concurrency} connections, {args.duration:g} s per target"
                  f" after {args.warmup:g} s warm-up (database: {args.database})",
        )
        if bursts:
            print_table(["target", "answered", "after 3 s or never", "p99 ms", "max ms"], bursts,
                        f"A burst of {args.burst} clicks at once, each on its own connection")
        print(f"incident #{number} acknowledged {acknowledgements} time(s) (expected 1)")
        print(f"calls the fake Slack API received (all targets): {await fake_stats(slack_url)}")
        print_targets(rows, bursts)
    print_machine("bench.interactive finished")


def print_targets(rows: list, bursts: list) -> None:
    """Issue 18's targets for closed-loop Ackbot rows, each as measured / baseline of its round."""
    out = []
    for row in rows:
        if not row[1].startswith("Ackbot") or row[3] == "-":
            continue
        bolt = next(other for other in rows if other[0] == row[0] and other[1] == BOLT)
        out += click_targets(f"round {row[0]}: {row[1]}", float(row[2]), float(bolt[2]), row[6], bolt[6])
    for name, answered, late, _, _ in bursts:
        if name.startswith("Ackbot"):
            out.append([f"{name}: of a burst, none answered after 3 s", f"{late} late of {answered}",
                        "met" if late == 0 else "missed"])
    print_table(["target", "measured / baseline", ""], out, "Targets (issue 18)")


def click_targets(name: str, rate: float, base_rate: float, p99: float, base_p99: float) -> list[list[str]]:
    """>= 25 % of the baseline's clicks/s, p99 <= 10x the baseline's p99."""
    share, factor = rate / base_rate, p99 / base_p99
    return [
        [f"{name}: >= 25% of the baseline's clicks/s", f"{rate:.0f} / {base_rate:.0f} = {100 * share:.0f}%",
         "met" if share >= 0.25 else "missed"],
        [f"{name}: p99 <= 10x the baseline's", f"{p99:.0f} / {base_p99:.0f} ms = {factor:.1f}x",
         "met" if factor <= 10 else "missed"],
    ]


if __name__ == "__main__":
    run_main(main)
