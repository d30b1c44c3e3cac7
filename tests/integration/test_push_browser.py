"""The subscribe page in a real browser: headless Chromium loads it from the real app on a
loopback port, runs its script, installs the service worker, and reports no script error.
(Subscribing itself needs a real push service, which cannot be reached here.)

Skipped where Chromium is not installed (Debian: `apt-get install -y chromium`)."""
from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import ClientSession

from app import Secret, create_app
from channels.push import generate_vapid_keys
from incidents import push_links
from storage.fields import utcnow
from storage.models import User

CHROMIUM = Path("/usr/bin/chromium")
# CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
)
SCRIPT_ERRORS = re.compile(r"Uncaught|SyntaxError|ReferenceError|TypeError")


async def _dump_dom(url: str, profile: Path) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture
async def server(aiohttp_server, settings):
    private_key, public_key = generate_vapid_keys()
    server = await aiohttp_server(create_app(settings.replace(vapid_private_key=Secret(private_key))))
    server.public_key = public_key
    return server


def _script_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if SCRIPT_ERRORS.search(line)]


async def test_the_subscribe_page_renders_and_its_script_runs_without_errors(server, tmp_path):
    alice = await User.acreate(handle="alice", name="Alice")
    url = await push_links.SubscribeLinks(str(server.make_url("")).rstrip("/"), timedelta(hours=1)).issue(alice.id, utcnow())
    dom, log = await _dump_dom(url, tmp_path / "profile")
    assert "Ackbot pages on this device" in dom and f'data-public-key="{server.public_key}"' in dom
    # The script ran to its end: it left "loading" and is installing the worker (which
    # completes in real time, after a headless --dump-dom has already printed the page).
    assert re.search(r'data-state="(installing|ready)"', dom), re.search(r'id="status"[^>]*>([^<]*)', dom)
    assert not _script_errors(log)


async def test_the_service_worker_parses_and_turns_action_links_into_act_urls(server, tmp_path):
    # Inlined: Chromium refuses a data: page's script from a loopback address.
    async with ClientSession() as http, http.get(server.make_url("/push/sw.js")) as response:
        worker = await response.text()
    probe = (
        f"<script>{worker}</script><script>"
        'document.body.dataset.plain = actUrl("http://ackbot.test/a/TOKEN");'
        'document.body.dataset.prefixed = actUrl("https://example.com/ackbot/a/TOKEN");'
        "</script>"
    )
    dom, log = await _dump_dom("data:text/html," + quote(f"<body>{probe}</body>"), tmp_path / "profile")
    assert 'data-plain="http://ackbot.test/push/act/TOKEN"' in dom
    assert 'data-prefixed="https://example.com/ackbot/push/act/TOKEN"' in dom
    assert not _script_errors(log)
