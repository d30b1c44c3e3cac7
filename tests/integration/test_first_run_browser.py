"""The README's first run in a real browser: Playwright drives Debian's Chromium (nothing is
downloaded) against the real app on SQLite with the Web Push key it generated itself and the
example people file applied. Alice signs in, turns on notifications on her own page and sends
herself a test page; then an incident pages her, and she acknowledges it from the notification's
action link, once.

Chromium's own push service (Google's) cannot be reached here, so the subscription is faked at
the browser boundary: an init script makes ``PushManager.subscribe`` return a subscription whose
endpoint is a fake push service (https, with a certificate the app's push channel trusts) and
whose keys the test holds, so the test decrypts what arrived as the browser would. Everything
between the button and the push service is the real page, script, routes and channel. The
refusals run for real where Chromium can refuse (permission denied, a page that is not https
and not localhost); a browser without ``PushManager`` is faked."""
from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright

from app import create_app, push_config, resolve_vapid_key
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from bot.web import WEB_KEY
from channels.push import PushChannel, public_key_of
from incidents.directory import PeopleDirectory
from incidents.intake import TriggerRequest
from storage.database import database
from storage.enums import Channel
from storage.models import IncidentEvent, PushSubscription
from tests.fakes.push_service import BrowserSubscription, FakePushService
from tests.fakes.smtp_server import make_certificate
from tests.reliability.outage_support import REPO_ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
# CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
    ),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
INSECURE_HOST = "ackbot.example"  # mapped to 127.0.0.1, so a plain-http page that is not localhost

FAKE_SUBSCRIPTION = """
(() => {
  const subscription = %s;
  PushManager.prototype.subscribe = async function (options) {
    window.serverKeyBytes = Array.from(new Uint8Array(options.applicationServerKey));
    return { endpoint: subscription.endpoint, toJSON: () => subscription, unsubscribe: async () => true };
  };
  PushManager.prototype.getSubscription = async () => null;
})();
"""


@pytest.fixture
async def world(aiohttp_server, settings, tmp_path):
    certificate, key = make_certificate(tmp_path)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(certificate, key)
    port = free_port()
    configured = resolve_vapid_key(settings.replace(public_url=f"http://127.0.0.1:{port}"))
    async with (
        FakePushService(serving) as fake,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=certificate))) as http,
    ):
        channels = {Channel.PUSH: PushChannel(push_config(configured), http)}
        server = await aiohttp_server(create_app(configured, channels=channels), port=port)
        await PeopleDirectory().apply_file(REPO_ROOT / "people.example.toml")
        server.fake, server.public_key = fake, public_key_of(configured.vapid_private_key.reveal())
        yield server


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"],
        )
        yield chromium
        await chromium.close()


async def _own_page(browser, server, host: str = "127.0.0.1", grant: bool = True, init_script: str | None = None):
    """Alice signed in (through a one-time link, as `ackbot login-link alice` prints) on her own page."""
    origin = f"http://{host}:{server.port}"
    context = await browser.new_context()
    if grant:
        await context.grant_permissions(["notifications"], origin=origin)
    if init_script:
        await context.add_init_script(script=init_script)
    page = await context.new_page()
    url, _ = await server.app[WEB_KEY].sessions.issue_link("alice")
    await page.goto(origin + url.split(str(server.port), 1)[1])
    await page.get_by_role("button", name="Sign in as Alice Example").click()
    await page.wait_for_url("**/")
    await page.get_by_role("link", name="Notifications").click()
    await page.wait_for_url("**/me")
    return page


async def _status_once_settled(page) -> tuple[str, str]:
    await page.wait_for_function("!['loading', 'subscribing'].includes(document.getElementById('notify').dataset.state)")
    return await page.get_attribute("#notify", "data-state"), await page.inner_text("#notify-status")


def _decoded(base64url: str) -> list[int]:
    return list(base64.urlsafe_b64decode(base64url + "=" * (-len(base64url) % 4)))


async def _arrived(server, browser_keys: BrowserSubscription) -> dict:
    await server.app[DISPATCHER_KEY].run_once()
    return browser_keys.decrypt(server.fake.messages_to("alice-laptop")[-1].body)


async def test_from_sign_in_to_a_push_page_acknowledged_once_and_the_refusals_said_plainly(world, browser):
    problems: list[str] = []
    keys = BrowserSubscription(world.fake.endpoint("alice-laptop"))
    page = await _own_page(browser, world, init_script=FAKE_SUBSCRIPTION % json.dumps(keys.to_json()))
    page.on("pageerror", lambda error: problems.append(str(error)))
    assert "No enabled channel can reach you yet." in await page.inner_text("main")
    assert await _status_once_settled(page) == ("ready", "Click the button, then allow notifications when the browser asks.")

    await page.get_by_role("button", name="Turn on notifications in this browser").click()
    await page.wait_for_selector("#notify[data-state=subscribed]")
    assert await page.inner_text("#notify-status") == (
        "Done: this browser will get Ackbot pages for Alice Example. Send yourself a test page to see one.")
    assert await page.evaluate("window.serverKeyBytes") == _decoded(world.public_key)
    [row] = await database.list(PushSubscription.select())
    assert (row.endpoint, row.p256dh, row.auth) == (keys.endpoint, keys.p256dh, keys.auth)
    assert await page.evaluate("navigator.serviceWorker.getRegistration('/push/').then((r) => r.scope)") == (
        f"http://127.0.0.1:{world.port}/push/")

    await page.get_by_role("button", name="Send me a test page").click()
    assert "Test page queued on push." in await page.inner_text("main .notice")
    assert "Pages reach you by push. Browsers with notifications on: 1." in await page.inner_text("main")
    test_page = await _arrived(world, keys)
    assert (test_page["title"], test_page["kind"], test_page["actions"]) == ("[TEST] Ackbot test notification", "TEST", [])

    incident = (await world.app[SERVICE_KEY].trigger(
        TriggerRequest(title="DB primary down", team="payments", priority="CRITICAL"))).incident
    message = await _arrived(world, keys)
    assert message["incident"] == incident.id and message["title"] == f"[CRITICAL] #{incident.id}: DB primary down"
    actions = {action["action"]: action for action in message["actions"]}
    assert {name: action["title"] for name, action in actions.items()} == {"acknowledge": "Acknowledge", "resolve": "Resolve"}

    for _ in range(2):
        await page.goto(actions["acknowledge"]["url"])
        if await page.get_by_role("button", name=f"Acknowledge #{incident.id}").count():
            await page.get_by_role("button", name=f"Acknowledge #{incident.id}").click()
            assert f"#{incident.id} acknowledged by Alice Example" in await page.inner_text("body")
    text = await page.inner_text("body")
    assert "This link was already used" in text and "Acknowledged by Alice Example" in text
    assert await database.run(
        IncidentEvent.select().where((IncidentEvent.incident == incident.id) & (IncidentEvent.kind == "ACKNOWLEDGED")).count
    ) == 1
    assert problems == []

    denied = await _own_page(browser, world, grant=False)
    cdp = await denied.context.new_cdp_session(denied)
    target = (await cdp.send("Target.getTargetInfo"))["targetInfo"]
    await cdp.send("Browser.setPermission", {
        "permission": {"name": "notifications"}, "setting": "denied", "origin": f"http://127.0.0.1:{world.port}",
        "browserContextId": target["browserContextId"]})
    await denied.reload()
    assert await _status_once_settled(denied) == ("denied", (
        "Notifications are blocked for this site. Allow them in the browser's site settings "
        "(the icon left of the address), then reload this page."))

    insecure = await _own_page(browser, world, host=INSECURE_HOST, grant=False)
    state, text = await _status_once_settled(insecure)
    assert state == "insecure" and text.startswith("Browsers allow notifications only on https:// pages and on localhost.")

    no_push = await _own_page(browser, world, init_script="delete window.PushManager;")
    state, text = await _status_once_settled(no_push)
    assert state == "unsupported" and "On iPhone and iPad: Share, then Add to Home Screen" in text
    assert await no_push.get_by_role("button", name="Turn on notifications in this browser").is_disabled()
