"""``ackbot serve`` and ``ackbot worker`` as real processes on a database reached through a
``TcpProxy``, SMS pages to a fake Twilio, and steady intake through the HTTP API, for the
database outage tests."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.integration import worker_support

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ackbot_environment(database_url: str, encryption_key: str, twilio_url: str, data_dir: Path, port: int) -> dict:
    """Settings for both processes: SMS on (the fake Twilio), a lease longer than the longest
    outage tested (so results kept through it are still ours to record), quick polling."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ACKBOT_")}
    environment.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "ACKBOT_DATABASE_URL": database_url, "ACKBOT_ENCRYPTION_KEYS": encryption_key,
        "ACKBOT_DATA_DIR": str(data_dir), "ACKBOT_HOST": "127.0.0.1", "ACKBOT_PORT": str(port),
        "ACKBOT_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "ACKBOT_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "ACKBOT_TWILIO_FROM_NUMBER": FROM_NUMBER, "ACKBOT_TWILIO_API_URL": twilio_url,
        "ACKBOT_POLL_INTERVAL": "0.2", "ACKBOT_SEND_TIMEOUT": "2", "ACKBOT_LEASE_SECONDS": "20",
        "ACKBOT_LOG_LEVEL": "INFO",
    })
    return environment


class Processes:
    """Starts ``python -m app …`` processes, each logging to a file; kills what still runs on exit."""

    def __init__(self, tmp_path: Path, environment: dict):
        self.tmp_path = tmp_path
        self.environment = environment
        self.started: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(self, name: str, *arguments: str) -> subprocess.Popen:
        log_path = self.tmp_path / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", *arguments], cwd=REPO_ROOT, env=self.environment,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        self.started[name] = (process, log_path)
        return process

    def log(self, name: str) -> str:
        return self.started[name][1].read_text(errors="replace")

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, (process, _) in self.started.items()}

    async def stop(self, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM every process and wait for them without blocking the event loop (the proxy and
        the fakes they need to finish run on it); their exit codes (None: still running)."""
        for process, _ in self.started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(process.poll() is None for process, _ in self.started.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {name: process.poll() for name, (process, _) in self.started.items()}

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, error_type, *exc_info) -> None:
        if error_type is not None:
            for name in self.started:
                print(f"--- {name} ---\n{self.log(name)[-6000:]}")
        for process, _ in self.started.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """``worker_support.wait_until`` at a slower pace: these predicates poll over HTTP."""
    return worker_support.wait_until(predicate, timeout, what, interval)


async def healthz(session: aiohttp.ClientSession, base_url: str) -> tuple[int, dict | None]:
    try:
        async with session.get(f"{base_url}/healthz") as response:
            return response.status, await response.json()
    except aiohttp.ClientError:
        return 0, None


@dataclass
class Answer:
    title: str
    sent_at: float
    status: int
    number: int | None


class SteadyIntake:
    """Posts a new incident (no dedup key: a sender retrying would open another) every
    ``interval`` seconds, each request on its own, and keeps every answer."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, team: str, interval: float):
        self.session, self.url, self.team, self.interval = session, f"{base_url}/api/v1/incidents", team, interval
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.answers: list[Answer] = []
        self._requests: set[asyncio.Task] = set()
        self._loop: asyncio.Task | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> list[Answer]:
        self._loop.cancel()
        await asyncio.gather(self._loop, return_exceptions=True)
        await asyncio.gather(*self._requests)
        return sorted(self.answers, key=lambda answer: answer.sent_at)

    async def _run(self) -> None:
        for number in range(10_000):
            task = asyncio.create_task(self._post(f"load {number}"))
            self._requests.add(task)
            await asyncio.sleep(self.interval)

    async def _post(self, title: str) -> None:
        sent_at = time.monotonic()
        body = {"title": title, "team": self.team, "priority": "high"}
        async with self.session.post(self.url, json=body, headers=self.headers) as response:
            number = (await response.json())["number"] if response.status == 201 else None
            if response.status == 503:
                assert response.headers.get("Retry-After"), "a 503 says when to retry"
            self.answers.append(Answer(title, sent_at, response.status, number))
