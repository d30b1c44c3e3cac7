"""The web view over HTTP on SQLite and PostgreSQL: signing in by one-time link, sessions,
CSRF, who sees what, acting on an incident, the people and delivery log pages."""
from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest

from app import create_app
from bot.app_keys import SERVICE_KEY, WEB_KEY
from bot.web.session import COOKIE
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.database import database
from storage.enums import Channel
from storage.models import Incident, NotificationLog, OnCallSchedule, ShiftOverride, Team, TeamMember, User, WebSession
from tests.fakes.channel import FixedClock, ScriptedChannel
from tests.fakes.smtp_server import SmtpServer
from tests.integration.web_support import csrf_of, sign_in, sign_in_link


async def _people():
    payments = await Team.acreate(name="payments", display_name="Payments")
    platform = await Team.acreate(name="platform", display_name="Platform")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", time_zone="Europe/Berlin")
    dave = await User.acreate(handle="dave", name="Dave", email="dave@example.com")
    root = await User.acreate(handle="root", name="Rooty", is_admin=True)
    await TeamMember.acreate(team=payments, user=alice)
    await TeamMember.acreate(team=platform, user=dave)
    return SimpleNamespace(alice=alice, dave=dave, root=root)


@pytest.fixture
async def world(aiohttp_client, settings):
    clock = FixedClock()
    channels = {Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}
    client = await aiohttp_client(create_app(settings, channels=channels, clock=clock))
    people = await _people()
    service = client.app[SERVICE_KEY]
    payments = (await service.trigger(TriggerRequest(title="DB primary down", team="payments", priority="CRITICAL"))).incident
    platform = (await service.trigger(TriggerRequest(title="Disk full on build host", team="platform"))).incident
    return SimpleNamespace(client=client, clock=clock, payments=payments, platform=platform, **vars(people))


async def test_opening_a_sign_in_link_changes_nothing_and_its_button_signs_in(world):
    client = world.client
    path = await sign_in_link(client, "alice")
    for _ in range(2):  # a mail scanner opens it first
        page = await client.get(path)
        assert page.status == 200 and "Sign in as Alice" in await page.text()
        assert COOKIE not in page.cookies
    signed = await client.post(path, allow_redirects=False)
    assert signed.status == 303 and signed.headers["Location"] == "/"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    home = await client.get("/")
    assert home.status == 200 and "DB primary down" in await home.text()
    [session] = await database.list(WebSession.select())
    assert session.session_hash != signed.cookies[COOKIE].value


@pytest.mark.parametrize("spoil", ["used", "expired", "unknown"])
async def test_a_used_expired_or_unknown_link_gets_the_same_neutral_page(world, spoil):
    client = world.client
    path = await sign_in_link(client, "alice")
    if spoil == "used":
        await client.post(path, allow_redirects=False)
        client.session.cookie_jar.clear()
    elif spoil == "expired":
        world.clock.advance(minutes=16)
    else:
        path = "/signin/" + "x" * 43
    for method in (client.get, client.post):
        answer = await method(path, allow_redirects=False)
        assert answer.status == 404
        assert "This link does not work (any more)" in await answer.text()
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/signin"


async def test_a_planted_session_id_is_never_the_one_signed_in(world):
    client = world.client
    client.session.cookie_jar.update_cookies({COOKIE: "planted-by-an-attacker"})
    assert (await client.get("/", allow_redirects=False)).status == 303
    response = await client.post(await sign_in_link(client, "alice"), allow_redirects=False)
    issued = response.cookies[COOKIE].value
    assert issued != "planted-by-an-attacker"
    planted = await client.session.get(
        client.make_url("/"), cookies={COOKIE: "planted-by-an-attacker"}, allow_redirects=False)
    assert planted.status == 303


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world):
    client = world.client
    await sign_in(client, "alice")
    number = world.payments.id
    for data in ({}, {"csrf": "0" * 64}):
        refused = await client.post(f"/incidents/{number}/acknowledge", data=data)
        assert refused.status == 403
    assert (await Incident.aget_by_id(number)).status == "TRIGGERED"
    token = await csrf_of(client, f"/incidents/{number}")
    done = await client.post(f"/incidents/{number}/acknowledge", data={"csrf": token})
    assert done.status == 200 and f"#{number} acknowledged by Alice via the web view." in await done.text()
    incident = await Incident.aget_by_id(number)
    assert (incident.status, incident.acknowledged_by_name, incident.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "WEB")
    again = await client.post(f"/incidents/{number}/acknowledge", data={"csrf": token})
    assert f"#{number} was already acknowledged by Alice via the web view" in await again.text()


async def test_another_teams_incident_is_neither_listed_nor_shown(world):
    client = world.client
    await sign_in(client, "alice")
    listing = await (await client.get("/?status=all")).text()
    assert "DB primary down" in listing and "Disk full" not in listing
    hidden = await client.get(f"/incidents/{world.platform.id}")
    missing = await client.get("/incidents/999999")
    assert hidden.status == missing.status == 404
    assert "belongs to a team you are not on" in await hidden.text()
    token = await csrf_of(client)
    refused = await client.post(f"/incidents/{world.platform.id}/resolve", data={"csrf": token})
    assert refused.status == 404
    assert (await Incident.aget_by_id(world.platform.id)).status == "TRIGGERED"
    assert (await client.get("/log")).status == 403


async def test_an_admin_sees_every_team_and_the_delivery_log_failed_first(world):
    client = world.client
    await NotificationLog.acreate(incident=world.platform, user=world.dave, channel="SMS", status="FAILED",
                                  error="Twilio 21614: not a mobile number")
    await NotificationLog.acreate(incident=world.payments, user=world.alice, channel="EMAIL", status="SENT")
    await sign_in(client, "root")
    listing = await (await client.get("/")).text()
    assert "DB primary down" in listing and "Disk full on build host" in listing
    log = await (await client.get("/log")).text()
    assert "Twilio 21614" in log and log.index("Disk full on build host") < log.index("DB primary down")
    only_sent = await (await client.get("/log?status=SENT")).text()
    assert "Twilio 21614" not in only_sent and "DB primary down" in only_sent
    assert (await client.get("/log?status=NOPE")).status == 422


async def test_signing_out_and_revoking_end_the_session(world):
    client = world.client
    await sign_in(client, "alice")
    token = await csrf_of(client)
    out = await client.post("/signout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/signin"
    client.session.cookie_jar.clear()
    await sign_in(client, "alice")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    assert await client.app[WEB_KEY].sessions.revoke("alice") == 1
    after = await client.session.get(client.make_url("/"), cookies={COOKIE: cookie}, allow_redirects=False)
    assert after.status == 303


async def test_the_people_page_says_who_no_channel_can_reach(world):
    client = world.client
    await sign_in(client, "root")
    page = await (await client.get("/people")).text()
    assert "no enabled channel can reach Rooty" in page
    row = re.search(r"<tr class=\"\">\s*<th scope=\"row\">Alice.*?</tr>", page, re.S).group(0)
    assert "email" in row.lower()
    test = await client.post("/people/test", data={"csrf": await csrf_of(client, "/people")})
    assert "No enabled channel can reach you" in await test.text()


async def test_cookies_are_secure_when_ackbot_is_served_over_https(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.replace(public_url="https://ackbot.example.com"), channels={}))
    await User.acreate(handle="alice", name="Alice")
    url, _ = await client.app[WEB_KEY].sessions.issue_link("alice")
    response = await client.post(url[len("https://ackbot.example.com"):], allow_redirects=False)
    assert "Secure" in response.headers["Set-Cookie"]


async def test_the_sign_in_form_mails_a_link_and_answers_the_same_for_an_unknown_address(aiohttp_client, settings):
    with SmtpServer() as smtp:
        configured = settings.replace(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
        client = await aiohttp_client(create_app(configured))
        await User.acreate(handle="alice", name="Alice", email="alice@example.com")
        answers = []
        for address in ("Alice@Example.com", "nobody@example.com"):
            response = await client.post("/signin", data={"email": address})
            answers.append((response.status, await response.text()))
        assert answers[0] == answers[1] and answers[0][0] == 200
        for _ in range(100):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        [message] = smtp.messages
        assert message["To"] == "alice@example.com"
        link = re.search(r"http://ackbot\.test(/signin/\S+)", message.get_content()).group(1)
        assert (await client.post(link, allow_redirects=False)).status == 303
        assert (await client.post("/signin", data={"email": ""})).status == 422


async def _payments_schedule(handles: list[str]) -> None:
    rotation = {"users": handles, "start": "2026-01-05T09:00", "shift": "1w", "days": [], "hours": None}
    payments = await Team.aget(Team.name == "payments")
    await OnCallSchedule.acreate(name="payments-primary", team=payments, time_zone="Europe/Berlin",
                                 definition={"rotations": [rotation], "overrides": []})


async def test_the_oncall_page_shows_now_next_and_two_weeks_and_a_shift_can_be_taken(world):
    client = world.client
    await User.acreate(handle="bob", name="Bob")
    await TeamMember.acreate(team=await Team.aget(Team.name == "payments"), user=await User.aget(User.handle == "bob"))
    await _payments_schedule(["bob", "alice"])
    await sign_in(client, "alice")
    page = await (await client.get("/oncall")).text()
    assert "payments-primary" in page and "<svg" in page and page.count("<rect") >= 2
    now_line = re.search(r"<dt>Now</dt>\s*<dd>(.*?)</dd>", page, re.S).group(1)
    assert "Bob" in now_line and "Mon 30 Nov 2026, 09:00 CET" in now_line
    token = await csrf_of(client, "/oncall")
    taken = await client.post("/oncall/take", data={"csrf": token, "schedule": "payments-primary", "duration": "2h"})
    assert taken.status == 200
    assert "You are on call for payments-primary instead of bob (they are told) until" in await taken.text()
    [override] = await database.list(ShiftOverride.select())
    assert (await User.aget_by_id(override.user_id)).handle == "alice"
    after = await (await client.get("/oncall")).text()
    assert "(override)" in re.search(r"<dt>Now</dt>\s*<dd>(.*?)</dd>", after, re.S).group(1)
    refused = await client.post("/oncall/take", data={"csrf": token, "schedule": "payments-primary", "duration": "20d"})
    assert refused.status == 422


async def test_another_teams_schedule_is_not_shown_nor_taken(world):
    client = world.client
    await _payments_schedule(["alice"])
    await sign_in(client, "dave")
    assert "payments-primary" not in await (await client.get("/oncall")).text()
    token = await csrf_of(client, "/oncall")
    refused = await client.post("/oncall/take", data={"csrf": token, "schedule": "payments-primary"})
    assert refused.status == 409 and "may take payments-primary shifts" in await refused.text()
    assert await database.list(ShiftOverride.select()) == []


async def test_a_change_made_before_the_live_stream_opens_is_sent_at_once(world):
    client = world.client
    await sign_in(client, "alice")
    number = world.payments.id
    html = await (await client.get(f"/incidents/{number}")).text()
    [live_url] = re.findall(r'data-live="([^"]+)"', html)
    assert live_url.startswith(f"/incidents/{number}/live?since=")
    await client.app[SERVICE_KEY].resolve(number, Actor("Carol", "API"))  # after the page, before its stream
    async with client.get(live_url.replace("&amp;", "&")) as stream:
        first = await asyncio.wait_for(stream.content.readline(), timeout=0.9)  # before the first 1 s look
    assert first.strip() == b"event: incident"
    async with client.get(f"/incidents/{number}/live") as unversioned:  # an old page: from now on only
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(unversioned.content.readline(), timeout=0.3)
