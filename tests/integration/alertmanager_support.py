"""A real Prometheus Alertmanager for end-to-end tests: Debian's ``prometheus-alertmanager``
binary started on a free loopback port with the receivers a test gives, alerts posted to its
API v2, stopped at the end.

The binary is required, not optional: a machine without it fails these tests (CI installs it,
``.ci/run``). ``ACKBOT_TEST_ALERTMANAGER`` may point at another binary.

    config = alertmanager_config([webhook_receiver("ackbot", url, key)])
    async with running_alertmanager(config, tmp_path) as alertmanager:
        await alertmanager.fire(alert("PostgresDown", instance="db-1"))
        await eventually(lambda: ..., "an incident opened")
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

ALERTMANAGER = Path(os.environ.get("ACKBOT_TEST_ALERTMANAGER", "/usr/bin/prometheus-alertmanager"))
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


def alertmanager_config(receivers: list[dict], group_by=("alertname",), group_wait="1s", group_interval="1s",
                        repeat_interval="1h") -> dict:
    """A configuration routing every alert to the first of ``receivers`` (and, with
    ``continue``, to the others too), with short waits so notifications come within seconds."""
    first, *others = (receiver["name"] for receiver in receivers)
    timing = {"group_by": list(group_by), "group_wait": group_wait, "group_interval": group_interval,
              "repeat_interval": repeat_interval}
    return {
        "route": {
            "receiver": first, **timing,
            "routes": [{"receiver": name, "continue": True, "matchers": ['alertname=~".+"'], **timing}
                       for name in [first, *others]],
        },
        "receivers": receivers,
    }


def webhook_receiver(name: str, url: str, key: str) -> dict:
    """A ``webhook_configs`` receiver posting to ``url`` with ``key`` as its bearer credential."""
    return {"name": name, "webhook_configs": [
        {"url": url, "send_resolved": True, "http_config": {"authorization": {"credentials": key}}}
    ]}


def alert(name: str, severity: str = "critical", ends_in: timedelta = timedelta(hours=1), **labels: str) -> dict:
    """An alert as posted to ``/api/v2/alerts``; a negative ``ends_in`` resolves it."""
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} is firing", "description": f"{name} on {labels.get('instance', '?')}"},
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
        "endsAt": (now + ends_in).isoformat(),
        "generatorURL": f"http://prometheus.example:9090/graph?g0.expr={name}",
    }


def resolved(fired: dict) -> dict:
    """``fired`` again, ended a second ago: Alertmanager sends the group resolved."""
    return {**fired, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}


@dataclass
class RealAlertmanager:
    url: str
    log: Path

    async def fire(self, *alerts: dict) -> None:
        """Post alerts (firing or ended) to the API v2, as Prometheus does."""
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}/api/v2/alerts", json=list(alerts)) as response:
                assert response.status == 200, await response.text()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def running_alertmanager(config: dict, folder: Path) -> AsyncIterator[RealAlertmanager]:
    """Alertmanager running with ``config`` (storage and log in ``folder``) until the block ends."""
    if not ALERTMANAGER.exists():
        pytest.fail(f"needs Alertmanager at {ALERTMANAGER} (Debian: apt-get install -y prometheus-alertmanager)")
    config_file = folder / "alertmanager.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    port = _free_port()
    log = folder / "alertmanager.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(ALERTMANAGER), f"--config.file={config_file}", f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug",
            stdout=output, stderr=output,
        )
    manager = RealAlertmanager(f"http://127.0.0.1:{port}", log)
    try:
        await _wait_ready(manager, process)
        yield manager
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(manager: RealAlertmanager, process) -> None:
    deadline = asyncio.get_running_loop().time() + _START_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                pytest.fail(f"Alertmanager exited with {process.returncode}:\n{manager.log_text()}")
            try:
                async with session.get(f"{manager.url}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    pytest.fail(f"Alertmanager not ready within {_START_TIMEOUT}s:\n{manager.log_text()}")


async def eventually(check: Callable[[], Awaitable[object]], what: str, timeout: float = 30.0, manager=None):
    """Await ``check()`` until it returns something truthy (then return it), for at most
    ``timeout`` seconds; otherwise fail saying ``what`` never happened (with Alertmanager's log)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() >= deadline:
            log = f"\nAlertmanager's log:\n{manager.log_text()}" if manager else ""
            pytest.fail(f"{what}: not within {timeout}s{log}")
        await asyncio.sleep(0.05)  # each check is one small query
