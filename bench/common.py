"""What every benchmark shares: the machine it ran on, tables, percentiles, temporary databases,
child processes that are always cleaned up, and a seeded Ackbot database.

Child processes get ``PR_SET_PDEATHSIG``, so they die with the benchmark even when it is killed
with SIGKILL; temporary PostgreSQL databases are dropped on the way out, including after Ctrl-C.
"""
from __future__ import annotations

import asyncio
import ctypes
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from incidents.api_keys import ApiKeys
from incidents.directory import PeopleDirectory
from storage.database import close_database, database, open_database
from storage.fields import use_keyring
from storage.keyring import Keyring, generate_key
from storage.migrations import migrate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TWILIO_SID = "AC" + "0" * 31 + "7"
TWILIO_TOKEN = "bench-twilio-auth-token"
TWILIO_FROM = "+15005550006"
SLACK_CLIENT_ID = "111.222"
SLACK_CLIENT_SECRET = "bench-client-secret"
SLACK_SIGNING_SECRET = "bench-signing-secret-0123456789ab"
SLACK_BOT_TOKEN = "xoxb-bench-bot-token"


# --- the machine and the tables ---------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        ("nproc", str(len(os.sched_getaffinity(0)))),
        ("CPU", model),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("kernel", platform.release()),
        ("load average (1, 5, 15 min)", load),
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]


def print_machine(title: str) -> None:
    print(f"\n== {title}")
    print_table(["machine", ""], machine())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    if title:
        print(f"\n{title}")
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(header)), *(len(row[index]) for row in cells)) if cells else len(str(header))
              for index, header in enumerate(headers)]
    print("| " + " | ".join(str(header).ljust(width) for header, width in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in cells:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def note(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --- child processes --------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # not Linux: cleanup then relies on the exit stack alone
        pass


def machine_busy_seconds() -> float:
    """CPU seconds every core of this machine has spent busy (not idle or waiting for I/O) since
    boot, from /proc/stat: over an interval, how much of the machine everything used."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-30:])
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    async def wait_for_log(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while time.monotonic() < deadline:
            found = compiled.search(self.log())
            if found:
                return found
            self.check_alive()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name}: no {pattern!r} in its log within {timeout:g}s")

    def stop(self, timeout: float = 15.0, signal_number: int = signal.SIGTERM) -> None:
        """``signal_number``, then SIGKILL if it has not exited within ``timeout``."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal_number)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_memory_kib(self) -> tuple[int, int]:
        """(VmHWM, VmRSS) in KiB from /proc/<pid>/status; the process must still run."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
        return values["VmHWM"], values["VmRSS"]


def ackbot_command(*arguments: str) -> list[str]:
    """The ``ackbot`` CLI of this checkout (BENCH_ACKBOT, when set, is the command to use instead,
    e.g. to compare an experimental build)."""
    if os.environ.get("BENCH_ACKBOT"):
        return [*shlex.split(os.environ["BENCH_ACKBOT"]), *arguments]
    script = Path(sys.executable).parent / "ackbot"
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-m", "app", *arguments]


def python_module(module: str, *arguments: str) -> list[str]:
    return [sys.executable, "-m", module, *arguments]


class Harness:
    """Owns the temporary folder, the child processes and the temporary databases of one
    benchmark run, and removes them all on exit (in reverse order)."""

    def __init__(self, args):
        self.postgres_url = args.postgres_url
        self.keep = args.keep
        self.settings = dict(setting.split("=", 1) for setting in args.setting)
        self.profile_dir = Path(args.profile).absolute() if args.profile else None
        self.dir = Path(tempfile.mkdtemp(prefix="ackbot-bench-"))
        self._stack = AsyncExitStack()
        self._counter = 0

    async def __aenter__(self) -> Harness:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc_info) -> None:
        try:
            await self._stack.__aexit__(*exc_info)
        finally:
            if not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
            else:
                note(f"kept {self.dir}")

    def start(self, name: str, argv: list[str], env: dict | None = None) -> Child:
        self._counter += 1
        log_path = self.dir / f"{self._counter:02d}-{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv, cwd=REPO, env=env if env is not None else child_env(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self._stack.callback(child.stop)
        return child

    async def start_ready(self, name: str, argv: list[str], env: dict | None = None, timeout: float = 60.0):
        """Start a bench helper that prints ``READY <port>``; returns (child, port)."""
        child = self.start(name, argv, env)
        found = await child.wait_for_log(r"READY (\d+)", timeout)
        return child, int(found.group(1))

    def profile(self, child: Child, name: str) -> Child | None:
        """With a profile folder: sample ``child`` with py-spy until ``end_profile``; the
        collapsed stacks go to <folder>/<name>.txt (summarise with ``python -m bench.profiles``)."""
        if self.profile_dir is None:
            return None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).parent / "py-spy"
        return self.start(f"py-spy-{name}", [
            str(spy), "record", "--pid", str(child.pid), "--rate", "100", "--format", "raw",
            "--output", str(self.profile_dir / f"{name}.txt"),
        ])

    @staticmethod
    def end_profile(profiler: Child | None) -> None:
        if profiler is not None:
            profiler.stop(signal_number=signal.SIGINT)

    async def database(self, kind: str) -> str:
        """A fresh, empty database URL of ``kind`` (sqlite or postgres), removed on exit."""
        self._counter += 1
        if kind == "sqlite":
            return f"sqlite:///{self.dir / f'bench-{self._counter}.db'}"
        name = f"ackbot_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        await _admin(self.postgres_url, f'CREATE DATABASE "{name}"')
        self._stack.push_async_callback(_admin, self.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return urlsplit(self.postgres_url)._replace(path=f"/{name}").geturl()


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def child_env(**variables: str) -> dict:
    """The environment for a child: this one without any ACKBOT_* variable, plus ``variables``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACKBOT_")}
    env["PYTHONPATH"] = str(REPO)
    env.update({key: str(value) for key, value in variables.items()})
    return env


def ackbot_env(harness: Harness, database_url: str, key: str, port: int | None = None, **settings) -> dict:
    """ACKBOT_* settings for an ``ackbot`` process on ``database_url``; the harness's ``settings``
    (``--setting NAME=VALUE``) come last and win."""
    variables = {
        "ACKBOT_DATABASE_URL": database_url, "ACKBOT_ENCRYPTION_KEYS": key, "ACKBOT_DATA_DIR": harness.dir / "data",
        "ACKBOT_HOST": "127.0.0.1", "ACKBOT_LOG_LEVEL": "INFO",
    }
    if port is not None:
        variables["ACKBOT_PORT"] = port
    variables.update(settings)
    variables.update(harness.settings)
    return child_env(**variables)


def twilio_settings(api_url: str) -> dict:
    return {
        "ACKBOT_TWILIO_ACCOUNT_SID": TWILIO_SID, "ACKBOT_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "ACKBOT_TWILIO_FROM_NUMBER": TWILIO_FROM, "ACKBOT_TWILIO_API_URL": api_url,
    }


def slack_settings(api_url: str) -> dict:
    return {
        "ACKBOT_SLACK_CLIENT_ID": SLACK_CLIENT_ID, "ACKBOT_SLACK_CLIENT_SECRET": SLACK_CLIENT_SECRET,
        "ACKBOT_SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET, "ACKBOT_SLACK_API_URL": api_url,
    }


async def fake_stats(url: str) -> dict:
    """What a fake provider (``bench.fake_providers``) has counted so far."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/_bench/stats") as response:
            return await response.json()


async def start_serve(harness: Harness, name: str, env: dict, port: int) -> Child:
    child = harness.start(name, ackbot_command("serve"), env)
    await wait_healthy(child, f"http://127.0.0.1:{port}/healthz")
    return child


async def wait_healthy(child: Child, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            child.check_alive()
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{child.name} did not answer {url} within {timeout:g}s")


# --- the database, seen from the benchmark ----------------------------------------------------


class Storage:
    """The benchmark's own connection to a run's database (for seeding and counting), through
    Ackbot's storage layer."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key

    async def __aenter__(self) -> Storage:
        use_keyring(Keyring((self.key,)))
        open_database(self.url, pool_size=2)
        await migrate()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await close_database()

    async def run(self, fn, *args):
        return await database.run(fn, *args)

    async def seed_team(self, team: str, people: int) -> None:
        """A team of ``people`` people with phone numbers and SMS as their first tier, through
        the people file."""
        lines = [f'[[teams]]\nname = "{team}"\n']
        for index in range(1, people + 1):
            handle = f"{team}-p{index:03d}"
            lines.append(
                f'[[users]]\nhandle = "{handle}"\nname = "Person {index}"\nemail = "{handle}@example.com"\n'
                f'phone = "+1555{index:07d}"\nteams = ["{team}"]\n'
                '[users.channels]\nprimary = ["sms"]\n'
            )
        await self.apply_people("\n".join(lines))

    async def apply_people(self, text: str) -> None:
        """Apply a people file with ``text``, as ``ackbot directory apply`` does."""
        with tempfile.TemporaryDirectory(prefix="ackbot-bench-") as folder:
            path = Path(folder) / "people.toml"
            path.write_text(text)
            await PeopleDirectory().apply_file(path)

    async def api_key(self) -> str:
        return await ApiKeys().create(f"bench-{uuid.uuid4().hex[:8]}")


def add_common_options(parser) -> None:
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="server to make temporary databases on (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite files)")
    parser.add_argument("--profile", metavar="DIR", help="sample the measured Ackbot processes with py-spy into DIR")
    parser.add_argument("--setting", action="append", default=[], metavar="ACKBOT_NAME=VALUE",
                        help="an extra setting for every Ackbot process (repeatable), e.g. to try a change")


def new_key() -> str:
    return generate_key()


def _interrupt(signal_number, frame) -> None:
    raise KeyboardInterrupt


def run_main(coroutine_function, argv=None) -> None:
    """Run a benchmark's async main; SIGTERM unwinds like Ctrl-C so everything is cleaned up."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        asyncio.run(coroutine_function(argv))
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
