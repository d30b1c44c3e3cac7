"""The web view in a real browser: Playwright drives Debian's Chromium (``executable_path``;
nothing is downloaded) against the real app on a loopback port with the fake Slack API. A person
signs in through a one-time link, acknowledges with the keyboard alone and sees Slack's card
edited, and watches the page follow a change made elsewhere without reloading. No console
errors; a screenshot of each page goes to ``ACKBOT_SCREENSHOT_DIR`` (default: build/screenshots,
ignored by git)."""
from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright

from app import create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY, WEB_KEY
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.enums import Channel
from storage.models import OnCallSchedule, SlackConnection, SlackInstallation, Team, TeamMember, User
from tests.fakes.slack_api import CLIENT_ID, FakeSlackAPI
from tests.integration.slack_support import slack_channel, slack_settings

CHROMIUM = Path("/usr/bin/chromium")
# CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
)
SHOTS = Path(os.environ.get("ACKBOT_SCREENSHOT_DIR", "build/screenshots"))


@pytest.fixture
async def slack():
    async with FakeSlackAPI() as api:
        api.add_user("UALICE", "Alice", "alice@example.com")
        yield api


@pytest.fixture
async def server(aiohttp_server, settings, slack):
    configured = slack_settings(settings, slack)
    async with aiohttp.ClientSession() as http:
        server = await aiohttp_server(create_app(configured, channels={Channel.SLACK: slack_channel(configured, http)}))
        payments = await Team.acreate(name="payments", display_name="Payments")
        alice = await User.acreate(
            handle="alice", name="Alice", email="alice@example.com", time_zone="Europe/Berlin", is_admin=True,
        )
        bob = await User.acreate(handle="bob", name="Bob", phone="+15555550102")
        for person in (alice, bob):
            await TeamMember.acreate(team=payments, user=person)
        await SlackConnection.acreate(user=alice, slack_user_id="UALICE", slack_team_id="T1")
        rotations = [
            {"users": ["bob", "alice"], "start": "2026-01-05T09:00", "shift": "1w", "days": [], "hours": None},
            {"users": ["alice"], "start": "2026-01-05T09:00", "shift": "1d",
             "days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00"},
        ]
        await OnCallSchedule.acreate(name="payments-primary", team=payments, time_zone="Europe/Berlin",
                                     definition={"rotations": rotations, "overrides": []})
        await SlackInstallation.acreate(
            client_id=CLIENT_ID, app_id="A1", team_id="T1", team_name="Acme", bot_token=slack.add_bot_token(),
            bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write,commands", user_id="UINSTALLER",
        )
        yield server


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def _trigger(server, title: str) -> int:
    app = server.app
    incident = (await app[SERVICE_KEY].trigger(TriggerRequest(title=title, team="payments", priority="CRITICAL"))).incident
    await app[DISPATCHER_KEY].run_once()
    return incident.id


async def _open_page(browser, server, problems: list[str]):
    context = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = await context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    url, _ = await server.app[WEB_KEY].sessions.issue_link("alice")
    await page.goto(str(server.make_url(url.split("ackbot.test", 1)[1])))
    await page.get_by_role("button", name="Sign in as Alice").click()
    await page.wait_for_url("**/")
    return page


async def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def _tab_to(page, name: str, limit: int = 40) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
        if focused == name:
            return
    raise AssertionError(f"the keyboard never reached {name!r}")


CONTROLS = "Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))"


async def _every_control_takes_focus(page) -> None:
    """Tabbing through the page reaches every link, button and field on it."""
    count = await page.evaluate(f"{CONTROLS}.length")
    reached = set()
    for _ in range(count + 5):
        await page.keyboard.press("Tab")
        reached.add(await page.evaluate(f"{CONTROLS}.indexOf(document.activeElement)"))
    reached.discard(-1)
    assert len(reached) == count, f"{count - len(reached)} of {count} controls on {page.url} never take focus"


async def test_sign_in_acknowledge_by_keyboard_and_see_slacks_card_edited(server, browser, slack):
    number = await _trigger(server, "DB primary down")
    [card] = slack.messages.values()
    problems: list[str] = []
    page = await _open_page(browser, server, problems)
    await _shot(page, "incidents")
    await page.get_by_role("link", name="DB primary down").click()
    await page.wait_for_url(f"**/incidents/{number}")
    assert await page.locator("#incident-status").inner_text() == "triggered"
    assert "delivered" in await page.locator("#grid").inner_text()
    await _shot(page, "incident")
    await _every_control_takes_focus(page)
    await page.goto(page.url)
    await _tab_to(page, "Acknowledge")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#incident-status:has-text('acknowledged')")
    assert f"#{number} acknowledged by Alice via the web view." in await page.inner_text("main")
    await server.app[DISPATCHER_KEY].run_once()
    assert len(slack.calls("chat.update")) == 1
    assert "Acknowledged by Alice via the web view" in str(slack.message(card.channel, card.ts).blocks)
    for path, name in (("/oncall", "oncall"), ("/people", "people"), ("/log", "log"), ("/signin", "signin")):
        await page.goto(str(server.make_url(path)))
        await _every_control_takes_focus(page)
        await _shot(page, name)
    assert problems == []


async def test_the_incident_page_follows_a_change_made_elsewhere_without_reloading(server, browser):
    number = await _trigger(server, "Checkout latency")
    problems: list[str] = []
    page = await _open_page(browser, server, problems)
    await page.goto(str(server.make_url(f"/incidents/{number}")))
    await page.evaluate("window.__sameDocument = true")
    assert await page.locator("#grid .delivery").count() == 1
    await server.app[SERVICE_KEY].resolve(number, Actor("Carol", "API"))
    await server.app[DISPATCHER_KEY].run_once()
    await page.wait_for_selector("#incident-status:has-text('resolved')", timeout=15_000)
    assert await page.evaluate("window.__sameDocument") is True
    assert "by Carol via the API" in await page.inner_text("#incident")
    await page.wait_for_function("document.querySelectorAll('#grid .delivery').length === 2", timeout=15_000)
    assert "status" in await page.locator("#grid .delivery .kind").inner_text()
    assert problems == []
