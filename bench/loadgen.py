"""Load generator for the interactive benchmark, run in a process of its own: signed Slack
``block_actions`` clicks (Acknowledge on one incident) over ``--concurrency`` keep-alive
connections for ``--warmup`` + ``--duration`` seconds: closed loop (each connection clicks again
as soon as it has its answer) or, with ``--rate``, open loop (clicks on a fixed schedule, latency
counted from when each was due), or, with ``--burst N``, N clicks at the same moment, each on a
connection of its own (how many are answered after Slack's 3 seconds). Every click is new to the server (its own ``action_ts``, so
replay protection does not short-circuit it) and signed as Slack signs: HMAC-SHA256 of
``v0:<timestamp>:<body>`` with the signing secret.

With ``--teams-token``, the clicks are Teams ``Action.Execute`` invokes on Acknowledge instead,
each with the Bot Framework token given (Teams reuses one token for an hour).

Prints one JSON line: requests completed in the measured window, requests/s, latency percentiles
(ms), status codes, errors, and the CPU this process used (a share near 1.0 means the generator,
not the server, was the limit).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import Counter
from urllib.parse import urlencode

import aiohttp

from bench.common import percentile

SLACK_DEADLINE_SECONDS = 3.0


def click_body(number: int, action_ts: str, response_url: str, user: str) -> str:
    payload = {
        "type": "block_actions", "api_app_id": "A1", "token": "unused-legacy-token",
        "team": {"id": "T1", "domain": "acme"}, "user": {"id": user, "team_id": "T1", "username": user.lower()},
        "trigger_id": f"trigger-{action_ts}", "response_url": response_url,
        "container": {"type": "message", "channel_id": f"D{user}", "message_ts": "1800000001.000100"},
        "channel": {"id": f"D{user}"},
        "actions": [{"type": "button", "action_id": "acknowledge", "block_id": f"incident-{number}",
                     "value": str(number), "action_ts": action_ts}],
    }
    return urlencode({"payload": json.dumps(payload)})


def teams_click_body(number: int, activity_id: str, service_url: str, app_id: str) -> str:
    """An ``Action.Execute`` on Acknowledge, as Teams sends it to the bot (an invoke activity)."""
    return json.dumps({
        "type": "invoke", "name": "adaptiveCard/action", "id": activity_id, "channelId": "msteams",
        "serviceUrl": service_url, "from": {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"},
        "recipient": {"id": f"28:{app_id}", "name": "Ackbot"},
        "conversation": {"id": "a:alice-chat", "conversationType": "personal", "tenantId": "tenant-1"},
        "channelData": {"tenant": {"id": "tenant-1"}},
        "value": {"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {"incident": number}},
                  "trigger": "manual"},
    })


def signed_headers(secret: bytes, body: str) -> dict:
    stamp = str(int(time.time()))
    digest = hmac.new(secret, f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


async def run(args) -> dict:
    secret = args.secret.encode()
    sequence = itertools.count(1)
    run_id = int(time.time())
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    answered = Counter()
    start = time.monotonic()
    measure_from = start + args.warmup
    measure_to = measure_from + args.duration

    async def click(session: aiohttp.ClientSession, sent: float, keep_late: bool) -> None:
        """One click; ``sent`` is when it was sent (closed loop) or due (open loop)."""
        click_id = f"{run_id}.{next(sequence):06d}"
        if args.teams_token:
            body = teams_click_body(args.number, click_id, args.service_url, args.app_id)
            headers = {"Authorization": f"Bearer {args.teams_token}", "Content-Type": "application/json"}
        else:
            body = click_body(args.number, click_id, args.response_url, args.user)
            headers = signed_headers(secret, body)
        status = None
        try:
            async with session.post(args.url, data=body, headers=headers) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            if sent >= measure_from:
                errors[type(error).__name__] += 1
        done = time.monotonic()
        answered[status] += 1
        if measure_from <= sent < measure_to and (keep_late or done <= measure_to) and status is not None:
            latencies.append(done - sent)
            statuses[status] += 1

    async def connection(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < measure_to:
            await click(session, time.monotonic(), keep_late=False)

    async def open_loop(session: aiohttp.ClientSession) -> None:
        """Clicks at ``--rate`` per second whatever the answers take (at most ``--concurrency``
        in flight: a click waiting for a connection counts its wait)."""
        slots = asyncio.Semaphore(args.concurrency)

        async def due(at: float) -> None:
            async with slots:
                await click(session, at, keep_late=True)

        tasks, index = [], 0
        while (at := start + index / args.rate) < measure_to:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tasks.append(asyncio.create_task(due(at)))
            index += 1
        await asyncio.gather(*tasks)

    if args.burst:
        measure_from, measure_to = start, start + args.duration
    connector = aiohttp.TCPConnector(limit=max(args.concurrency, args.burst))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        cpu_at = {}

        async def mark_cpu() -> None:
            await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
            cpu_at["from"] = time.process_time()
            await asyncio.sleep(max(0.0, measure_to - time.monotonic()))
            cpu_at["to"] = time.process_time()

        if args.burst:
            await asyncio.gather(mark_cpu(), *(click(session, start, keep_late=True) for _ in range(args.burst)))
        else:
            load = [open_loop(session)] if args.rate else [connection(session) for _ in range(args.concurrency)]
            await asyncio.gather(mark_cpu(), *load)

    def point(fraction: float) -> float:
        return round(1000 * percentile(latencies, fraction), 2)

    return {
        "requests": len(latencies), "rps": round(len(latencies) / args.duration, 1),
        "p50_ms": point(0.5), "p90_ms": point(0.9), "p99_ms": point(0.99), "max_ms": point(1.0),
        "statuses": {str(code): count for code, count in sorted(statuses.items())}, "errors": dict(errors),
        "answered_in_all": {str(code): count for code, count in answered.items()},
        "late": sum(1 for latency in latencies if latency > SLACK_DEADLINE_SECONDS) + sum(errors.values())
                + (args.burst - len(latencies) - sum(errors.values()) if args.burst else 0),
        "client_cpu": round((cpu_at["to"] - cpu_at["from"]) / args.duration, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", default="", help="Slack: the signing secret")
    parser.add_argument("--teams-token", default="", help="Teams: click with this Bot Framework token instead")
    parser.add_argument("--service-url", default="", help="Teams: the activities' serviceUrl")
    parser.add_argument("--app-id", default="", help="Teams: the bot's app id")
    parser.add_argument("--number", type=int, default=1, help="the incident the clicks acknowledge")
    parser.add_argument("--response-url", default="")
    parser.add_argument("--user", default="UALICE")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=0.0, help="clicks per second, open loop (0: closed loop)")
    parser.add_argument("--burst", type=int, default=0, help="send this many clicks at once instead (0: no burst)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
