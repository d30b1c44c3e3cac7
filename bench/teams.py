"""Teams benchmark: ``Action.Execute`` clicks (Acknowledge on an incident card) per second and
their latency at 64 concurrent connections, against Ackbot and a bare baseline measured in the
same run, so the result is a ratio.

    .venv/bin/python -m bench.teams [--duration 10] [--warmup 2] [--concurrency 64] [--burst 256]

Each its own process on 127.0.0.1: a fake Bot Framework (OpenID metadata, signing keys, token
endpoint, Bot Connector: ``bench.fake_providers teams``) with an RSA key made for the run; the
baseline, a bare aiohttp handler that validates the same RS256 JWT with PyJWT and answers with a
small card (``bench.baselines teams``); and ``ackbot serve`` with Teams configured against the
fake. Alice installs the bot (an ``installationUpdate``, which links her by her email), an
incident pages her, and then every click is an invoke on ``POST /api/messages`` with one token
signed for the run (Teams reuses a token for an hour). The first click acknowledges; every later
one is answered with the "already acknowledged" card, in the invoke's own answer. Ackbot is
measured only through HTTP, so this works whichever code validates its tokens.

Targets (issue 18), measured / baseline of the same run: Ackbot's clicks/s at least 25 % of the
baseline's, its p99 at most 10x the baseline's, and of ``--burst`` clicks at once none answered
after 3 seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import (
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
    start_serve,
)
from bench.fake_providers import TEAMS_ISSUER, TEAMS_KEY_ID
from bench.interactive import PEOPLE, Target, click_targets, wait_exit
from storage.models import IncidentEvent, NotificationLog, TeamsConnection

APP_ID = "0b1c2d3e-0000-4000-8000-00000000be4c"
BURST_WAIT_SECONDS = 10.0
BASELINE = "bare aiohttp + PyJWT (validate, answer a card)"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.teams", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each measurement")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--burst", type=int, default=256, help="clicks sent at once to each target (0: skip)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    add_common_options(parser)
    return parser.parse_args(argv)


def channel_token(key: rsa.RSAPrivateKey, service_url: str) -> str:
    """A token as the Bot Framework channel signs it for the bot, valid for an hour."""
    now = int(time.time())
    claims = {"iss": TEAMS_ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "iat": now - 10,
              "exp": now + 3600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": TEAMS_KEY_ID})


def teams_settings(fake_url: str) -> dict:
    return {
        "ACKBOT_TEAMS_APP_ID": APP_ID, "ACKBOT_TEAMS_APP_PASSWORD": "bench-bot-password",
        "ACKBOT_TEAMS_OPENID_METADATA_URL": f"{fake_url}/v1/.well-known/openidconfiguration",
        "ACKBOT_TEAMS_TOKEN_URL": f"{fake_url}/botframework.com/oauth2/v2.0/token",
    }


def _linked() -> int:
    return TeamsConnection.select().count()


def _teams_pages_sent() -> int:
    return NotificationLog.select().where(
        (NotificationLog.channel == "TEAMS") & NotificationLog.status.in_(("SENT", "DELIVERED"))
    ).count()


def _acknowledgements() -> int:
    return IncidentEvent.select().where(IncidentEvent.kind == "ACKNOWLEDGED").count()


async def _wait_for(storage: Storage, count, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while await storage.run(count) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} never happened")
        await asyncio.sleep(0.1)


async def prepare(storage: Storage, base: str, token: str, service_url: str) -> int:
    """Alice installs the bot and an incident pages her on Teams; returns its number."""
    await storage.apply_people(PEOPLE)
    api_key = await storage.api_key()
    install = {
        "type": "installationUpdate", "action": "add", "id": "install-1", "channelId": "msteams",
        "serviceUrl": service_url, "from": {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"},
        "recipient": {"id": f"28:{APP_ID}", "name": "Ackbot"},
        "conversation": {"id": "a:alice-chat", "conversationType": "personal", "tenantId": "tenant-1"},
        "channelData": {"tenant": {"id": "tenant-1"}},
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/messages", json=install,
                                headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status >= 300:
                raise RuntimeError(f"the install answered {response.status}: {await response.text()}")
        await _wait_for(storage, _linked, "Alice's Teams link")
        async with session.post(f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {api_key}"},
                                json={"title": "DB primary down", "service": "db", "team": "payments",
                                      "priority": "CRITICAL"}) as response:
            body = await response.json()
            if response.status != 201:
                raise RuntimeError(f"intake answered {response.status}: {body}")
    await _wait_for(storage, _teams_pages_sent, "Alice's Teams page")
    return body["number"]


async def load(harness: Harness, target: Target, number: int, token: str, service_url: str, args,
               burst: int = 0) -> dict:
    cpu_before, started = target.child.cpu_seconds(), time.monotonic()
    timing = ("--warmup", "0", "--duration", str(BURST_WAIT_SECONDS)) if burst else (
        "--warmup", str(args.warmup), "--duration", str(args.duration))
    child = harness.start(f"loadgen-{target.child.name}", python_module(
        "bench.loadgen", "--url", f"http://127.0.0.1:{target.port}/api/messages", "--teams-token", token,
        "--service-url", service_url, "--app-id", APP_ID, "--number", str(number),
        "--concurrency", str(args.concurrency), *timing, "--burst", str(burst),
    ))
    await wait_exit(child, args.warmup + args.duration + BURST_WAIT_SECONDS + 60)
    result = json.loads(child.log().strip().splitlines()[-1])
    result["server_cpu"] = round((target.child.cpu_seconds() - cpu_before) / (time.monotonic() - started), 2)
    return result


async def main(argv=None) -> None:
    args = parse_args(argv)
    print_machine("bench.teams")
    async with Harness(args) as harness:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = harness.dir / "teams-key.pem"
        pem.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        _, fake_port = await harness.start_ready("fake-teams", python_module("bench.fake_providers", "teams", "--key", str(pem)))
        fake_url = f"http://127.0.0.1:{fake_port}"
        service_url = f"{fake_url}/amer/"
        token = channel_token(key, service_url)
        bare, bare_port = await harness.start_ready("bare-teams", python_module(
            "bench.baselines", "teams", "--metadata-url", f"{fake_url}/v1/.well-known/openidconfiguration",
            "--app-id", APP_ID))
        async with Storage(await harness.database(args.database), new_key()) as storage:
            port = free_port()
            env = ackbot_env(harness, storage.url, storage.key, port, **teams_settings(fake_url))
            serve = await start_serve(harness, "serve-teams", env, port)
            number = await prepare(storage, f"http://127.0.0.1:{port}", token, service_url)
            targets = [Target(BASELINE, bare, bare_port), Target("Ackbot /api/messages", serve, port, ackbot=True)]
            rows, bursts = [], []
            for target in targets:
                note(f"{target.name}")
                profiler = harness.profile(target.child, "teams-serve") if target.ackbot else None
                result = await load(harness, target, number, token, service_url, args)
                harness.end_profile(profiler)
                rows.append([target.name, result["rps"], result["p50_ms"], result["p90_ms"], result["p99_ms"],
                             result["max_ms"], " ".join(f"{code}x{count}" for code, count in result["statuses"].items()),
                             sum(result["errors"].values()), result["server_cpu"], result["client_cpu"]])
            if args.burst:
                for target in targets:
                    note(f"burst of {args.burst} clicks: {target.name}")
                    result = await load(harness, target, number, token, service_url, args, burst=args.burst)
                    bursts.append([target.name, sum(result["statuses"].values()), result["late"], result["p99_ms"],
                                   result["max_ms"]])
            acknowledgements = await storage.run(_acknowledgements)
        print_table(["target", "clicks/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "errors", "server CPU",
                     "loadgen CPU"], rows,
                    f"Action.Execute clicks, {args.concurrency} connections, {args.duration:g} s per target after"
                    f" {args.warmup:g} s warm-up (database: {args.database})")
        if bursts:
            print_table(["target", "answered", "after 3 s or never", "p99 ms", "max ms"], bursts,
                        f"A burst of {args.burst} clicks at once, each on its own connection")
        print(f"incident #{number} acknowledged {acknowledgements} time(s) (expected 1)")
        print(f"calls the fake Bot Framework received: {await fake_stats(fake_url)}")
        base, ackbot = rows
        out = click_targets("Ackbot /api/messages", ackbot[1], base[1], ackbot[4], base[4])
        for name, answered, late, _, _ in bursts:
            if name.startswith("Ackbot"):
                out.append([f"{name}: of a burst, none answered after 3 s", f"{late} late of {answered}",
                            "met" if late == 0 else "missed"])
        print_table(["target", "measured / baseline", ""], out, "Targets (issue 18)")
    print_machine("bench.teams finished")


if __name__ == "__main__":
    run_main(main)
