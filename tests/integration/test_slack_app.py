"""The Slack app through the real application (create_app) and the fake Slack Web API, on SQLite
and PostgreSQL: signed clicks, replays and retries, refused requests, the slash command, and
cards that follow the incident whichever surface changed it."""
from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY, SLACK_APP_KEY
from channels.push import generate_vapid_keys
from incidents import api_keys
from incidents.intake import TriggerRequest
from storage.enums import Channel, EventKind
from storage.models import Incident, IncidentEvent, NotificationLog, SlackConnection, SlackInstallation, Team, TeamMember, User
from tests.fakes.channel import PERMANENT, ScriptedChannel
from tests.fakes.service import Fault
from tests.fakes.slack_api import CLIENT_ID, FakeSlackAPI
from tests.integration.slack_support import click, post_signed, signed_headers, slack_channel, slack_settings, slash_command
from tests.log_support import assert_logs_clean, rejection_lines


@pytest.fixture
async def fake():
    async with FakeSlackAPI() as api:
        api.add_user("UALICE", "Alice", "alice@example.com")
        api.add_user("UBOB", "Bob", "Bob@Example.com")
        api.add_user("UOLIVIA", "Olivia", "olivia@example.com")
        api.add_user("USTRANGER", "Stranger", "stranger@elsewhere.example")
        yield api


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def email():
    return ScriptedChannel(Channel.EMAIL)


@pytest.fixture
async def client(aiohttp_client, settings, fake, http, email):
    configured = slack_settings(settings, fake)
    channels = {Channel.SLACK: slack_channel(configured, http), Channel.EMAIL: email}
    client = await aiohttp_client(create_app(configured, channels=channels))
    await _seed(fake)
    return client


async def _seed(fake) -> None:
    payments = await Team.acreate(name="payments", display_name="Payments")
    for handle, name in (("alice", "Alice"), ("bob", "Bob")):
        user = await User.acreate(handle=handle, name=name, email=f"{handle}@example.com")
        await TeamMember.acreate(team=payments, user=user)
    alice = await User.aget(User.handle == "alice")
    await SlackConnection.acreate(user=alice, slack_user_id="UALICE", slack_team_id="T1")
    await User.acreate(handle="olivia", name="Olivia", email="olivia@example.com")
    await SlackInstallation.acreate(
        client_id=CLIENT_ID, app_id="A1", team_id="T1", team_name="Acme", bot_token=fake.add_bot_token(),
        bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write,commands", user_id="UINSTALLER",
    )


async def _page(client, title="DB primary down") -> int:
    service = client.app[SERVICE_KEY]
    incident = (await service.trigger(TriggerRequest(title=title, service="db", team="payments", priority="CRITICAL"))).incident
    await client.app[DISPATCHER_KEY].run_once()
    return incident.id


async def _settle(client) -> None:
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    await client.app[DISPATCHER_KEY].run_once()


def _alice_card(fake):
    [message] = [message for (channel, _), message in fake.messages.items() if channel == "DUALICE"]
    return message


def _buttons(message) -> list[str]:
    return [element["action_id"] for block in message.blocks if block["type"] == "actions" for element in block["elements"]]


async def _events(number: int, kind: str) -> int:
    query = IncidentEvent.select().where((IncidentEvent.incident == number) & (IncidentEvent.kind == kind))
    return await IncidentEvent._meta.database.count(query)


async def test_a_click_acknowledges_once_and_updates_the_card(client, fake):
    number = await _page(client)
    card = _alice_card(fake)
    assert _buttons(card) == ["acknowledge", "resolve", "open_in_ackbot"] and card.updates == 0
    response = await post_signed(client, click("acknowledge", number, fake.response_url()))
    assert response.status == 200
    await _settle(client)
    incident = await Incident.aget_by_id(number)
    assert (incident.status, incident.acknowledged_by_name, incident.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "SLACK")
    assert card.updates == 1 and "Acknowledged by Alice via Slack" in card.text
    assert _buttons(card) == ["resolve", "open_in_ackbot"]
    assert fake.responses == [], "a click that changed something needs no extra answer"
    assert await _events(number, EventKind.ACKNOWLEDGED) == 1


async def test_a_replay_and_a_retry_change_nothing(client, fake):
    number = await _page(client)
    body = click("acknowledge", number, fake.response_url())
    headers = signed_headers(body)
    assert (await client.post("/slack/events", data=body, headers=headers)).status == 200
    await _settle(client)
    replay = await client.post("/slack/events", data=body, headers=headers)
    retry = await client.post("/slack/events", data=body, headers={**signed_headers(body), "X-Slack-Retry-Num": "1",
                                                                    "X-Slack-Retry-Reason": "http_timeout"})
    assert (replay.status, retry.status) == (200, 200)
    await _settle(client)
    assert await _events(number, EventKind.ACKNOWLEDGED) == 1
    assert len(fake.calls("chat.update")) == 1 and fake.responses == []


async def test_unsigned_tampered_and_stale_requests_get_401(client, fake):
    number = await _page(client)
    body = click("acknowledge", number, fake.response_url())
    unsigned = await client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    tampered = await client.post(
        "/slack/events", data=click("resolve", number, fake.response_url()), headers=signed_headers(body)
    )
    stale = await client.post("/slack/events", data=body, headers=signed_headers(body, timestamp=int(time.time()) - 301))
    assert (unsigned.status, tampered.status, stale.status) == (401, 401, 401)
    await _settle(client)
    assert (await Incident.aget_by_id(number)).status == "TRIGGERED"
    assert fake.calls("chat.update") == [] and fake.responses == []


async def test_a_second_click_says_who_did_it_first(client, fake):
    number = await _page(client)
    await post_signed(client, click("acknowledge", number, fake.response_url()))
    await _settle(client)
    await post_signed(client, click("acknowledge", number, fake.response_url("bob"), user="UBOB", action_ts="1800000200.1"))
    await _settle(client)
    [answer] = fake.responses
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["text"].startswith(f"#{number} was already acknowledged by Alice via Slack at ")
    bob = await SlackConnection.aget(SlackConnection.slack_user_id == "UBOB")
    assert (bob.user_id, bob.slack_email) == ((await User.aget(User.handle == "bob")).id, "Bob@Example.com")


async def test_an_answer_the_response_url_refuses_is_logged_without_the_url(client, fake, caplog):
    number = await _page(client)
    await post_signed(client, click("acknowledge", number, fake.response_url()))
    await _settle(client)
    caplog.set_level(logging.DEBUG)
    fake.fail_next(Fault(status=404, body="expired_url", content_type="text/plain"))
    second = await post_signed(client, click("acknowledge", number, fake.response_url("late"), action_ts="1800000200.1"))
    await _settle(client)
    assert second.status == 200 and fake.responses == []
    assert "Slack reply failed: ClientResponseError" in caplog.text
    assert_logs_clean(caplog, fake.response_url("late"), "/response/")


async def test_strangers_and_outsiders_are_told_politely_and_nothing_changes(client, fake):
    number = await _page(client)
    await post_signed(client, click("resolve", number, fake.response_url("stranger"), user="USTRANGER"))
    await post_signed(client, click("resolve", number, fake.response_url("olivia"), user="UOLIVIA", action_ts="1800000300.1"))
    await _settle(client)
    answers = {answer["name"]: answer["text"] for answer in fake.responses}
    assert "matches no Ackbot user" in answers["stranger"] and "http://ackbot.test/slack/link" in answers["stranger"]
    assert answers["olivia"].startswith(f"Sorry, you can't act on #{number}")
    assert (await Incident.aget_by_id(number)).status == "TRIGGERED"


async def test_acknowledging_through_the_rest_api_updates_the_slack_card(client, fake):
    number = await _page(client)
    key = await api_keys.ApiKeys().create("monitoring")
    response = await client.post(f"/api/v1/incidents/{number}/acknowledge", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200
    await client.app[DISPATCHER_KEY].run_once()
    card = _alice_card(fake)
    assert card.updates == 1 and "Acknowledged by API key monitoring via the API" in card.text
    assert _buttons(card) == ["resolve", "open_in_ackbot"]
    await client.post(f"/api/v1/incidents/{number}/resolve", headers={"Authorization": f"Bearer {key}"})
    await client.app[DISPATCHER_KEY].run_once()
    assert card.updates == 2 and "Resolved by API key monitoring via the API" in card.text and _buttons(card) == ["open_in_ackbot"]


def _section_texts(blocks) -> list[str]:
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


def _answer_buttons(blocks) -> list[tuple[str, str]]:
    return [(button["action_id"], button["value"]) for block in blocks if block["type"] == "actions" for button in block["elements"]]


async def test_incident_status_answers_with_block_kit_in_the_askers_zone(client, fake, email):
    email.default = PERMANENT
    await User.update(time_zone="America/New_York").where(User.handle == "alice").aexecute()
    number = await _page(client)
    await post_signed(client, slash_command(f"status {number}", fake.response_url()))
    await _settle(client)
    [answer] = fake.responses
    assert answer["response_type"] == "ephemeral" and answer["text"] == f"#{number} CRITICAL · DB primary down [TRIGGERED]"
    blocks = answer["blocks"]
    assert blocks[0]["text"]["text"] == f"🔴 #{number} CRITICAL: DB primary down"
    slack_page = await NotificationLog.aget((NotificationLog.incident == number) & (NotificationLog.channel == "SLACK"))
    delivered = slack_page.delivered_at.astimezone(ZoneInfo("America/New_York"))
    sections = _section_texts(blocks)
    [alice] = [text for text in sections if text.startswith("*Alice*")]
    assert f"✅ Slack: delivered {delivered:%H:%M}" in alice and "❌ Email: failed: " in alice and "invalid address" in alice
    assert any(text.startswith("*Bob*") and "❌ Email: failed" in text for text in sections)
    assert blocks[-1]["elements"][0]["text"] == f"Times in America/New_York ({delivered:%Z})."
    buttons = _answer_buttons(blocks)
    assert buttons == [("acknowledge", str(number)), ("resolve", str(number))]
    action_id, value = buttons[0]
    await post_signed(client, click(action_id, int(value), fake.response_url("click")))
    await _settle(client)
    assert (await Incident.aget_by_id(number)).acknowledged_by_name == "Alice"


async def test_the_status_of_a_forty_person_incident_is_summarised_within_slacks_limits(client, fake, email):
    email.default = PERMANENT
    payments = await Team.aget(Team.name == "payments")
    for index in range(38):
        person = await User.acreate(handle=f"p{index}", name=f"Person {index:02d}", email=f"p{index}@example.com")
        await TeamMember.acreate(team=payments, user=person)
    number = await _page(client)
    await post_signed(client, slash_command(f"status {number}", fake.response_url()))
    await _settle(client)
    [answer] = fake.responses  # the fake refuses blocks over Slack's limits, as Slack does
    sections = _section_texts(answer["blocks"])
    assert sections[1] == "*40 people paged:* ❌ 40 failed · ✅ 1 delivered"
    assert sum(text.count("❌ Email: failed") for text in sections) == 10
    assert any(text.startswith("*30 more, 30 of them with a failed page:*") for text in sections)
    assert "ackbot status" in answer["blocks"][-1]["elements"][1]["text"]


async def test_incident_status_of_an_unknown_incident_says_so(client, fake):
    await post_signed(client, slash_command("status 999", fake.response_url()))
    await _settle(client)
    assert [answer["text"] for answer in fake.responses] == ["There is no incident #999."]


async def test_slash_commands_act_list_and_help(client, fake):
    number = await _page(client)
    for index, text in enumerate(["list", f"ack {number}", "frobnicate", "link", "push"]):
        await post_signed(client, slash_command(text, fake.response_url(str(index)), trigger_id=f"t{index}"))
    await post_signed(client, slash_command("list", fake.response_url("stranger"), user="USTRANGER", trigger_id="t9"))
    await _settle(client)
    answers = {answer["name"]: answer["text"] for answer in fake.responses}
    listing = next(answer for answer in fake.responses if answer["name"] == "0")
    assert answers["0"] == f"#{number} CRITICAL · DB primary down [TRIGGERED]"
    assert f"🔴 *#{number} CRITICAL* · DB primary down\nPayments · Triggered · 0 min ago" in _section_texts(listing["blocks"])
    assert _answer_buttons(listing["blocks"]) == [("acknowledge", str(number)), ("resolve", str(number))]
    assert answers["1"] == f"#{number} acknowledged by Alice via Slack."
    assert "I don't know \"frobnicate\"" in answers["2"] and "status 42" in answers["2"]
    assert answers["3"] == "Your Slack account is linked to Ackbot user *Alice* (alice@example.com)."
    assert answers["4"] == "Push notifications are not switched on in this Ackbot."
    assert "matches no Ackbot user" in answers["stranger"]
    assert _alice_card(fake).updates == 1


async def test_slash_push_sends_a_one_time_subscribe_link(aiohttp_client, settings, fake, http):
    private_key, _ = generate_vapid_keys()
    configured = slack_settings(settings, fake).replace(vapid_private_key=Secret(private_key))
    client = await aiohttp_client(create_app(configured, channels={Channel.SLACK: slack_channel(configured, http)}))
    await _seed(fake)
    await post_signed(client, slash_command("push", fake.response_url("push")))
    await _settle(client)
    [answer] = [answer["text"] for answer in fake.responses if answer["name"] == "push"]
    url = answer.split("<", 1)[1].split("|", 1)[0]
    assert url.startswith("http://ackbot.test/push/p/") and "It works once" in answer
    page = await client.get(url.removeprefix("http://ackbot.test"))
    assert page.status == 200 and "Turn on notifications" in await page.text()


async def test_healthz_says_slack_is_on(client):
    body = await (await client.get("/healthz")).json()
    assert body["channels"]["slack"] == "on"


async def test_malformed_requests_get_a_clear_400(client):
    for body, problem in ((b"payload=%7Bnot-json", "the payload is not valid JSON"), (b"\xff\xfe", "the body is not UTF-8")):
        response = await client.post("/slack/events", data=body, headers=signed_headers(body))
        assert response.status == 400 and (await response.json()) == {"error": f"malformed Slack request: {problem}"}


# --- hardening: what outsiders and odd senders get, and what the log keeps -------------------


def _click_payload(fake, **changes) -> dict:
    payload = json.loads(parse_qs(click("acknowledge", 1, fake.response_url()))["payload"][0])
    payload.update(changes)
    return payload


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-5", "1800000000.5"])
async def test_a_malformed_timestamp_is_a_401_with_one_log_line(client, fake, caplog, timestamp):
    caplog.set_level(logging.DEBUG)
    body = click("acknowledge", 1, fake.response_url())
    headers = {**signed_headers(body), "X-Slack-Request-Timestamp": timestamp}
    response = await client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    assert_logs_clean(caplog, body, fake.response_url(), "response_url")
    assert rejection_lines(caplog) == [f"rejected POST /slack/events: malformed Slack request timestamp ({len(body)} bytes)"
                                       if timestamp else f"rejected POST /slack/events: no Slack signature ({len(body)} bytes)"]


_DEEP_JSON = "[" * 5000 + "]" * 5000
_UNREADABLE = [
    ("payload=%5B%5D", "form"), ("payload=null", "form"), ("payload=%22x%22", "form"), ("payload=42", "form"),
    ("[]", "json"), (_DEEP_JSON, "json"), ('{"a":' * 5000 + "1" + "}" * 5000, "json"),
    (urlencode({"payload": _DEEP_JSON}), "form"),
]
_CONTENT_TYPES = {"form": "application/x-www-form-urlencoded", "json": "application/json"}


@pytest.mark.parametrize("body, kind", _UNREADABLE, ids=lambda value: value[:20])
async def test_unreadable_bodies_are_401_unsigned_and_400_signed(client, caplog, body, kind):
    caplog.set_level(logging.DEBUG)
    content_type = _CONTENT_TYPES[kind]
    unsigned = await client.post("/slack/events", data=body, headers={"Content-Type": content_type})
    signed = await client.post("/slack/events", data=body, headers=signed_headers(body, content_type=content_type))
    assert (unsigned.status, signed.status) == (401, 400)
    assert (await signed.json())["error"].startswith("malformed Slack request: the payload is not")
    assert_logs_clean(caplog, body[:40])
    [refused, malformed] = rejection_lines(caplog)
    assert refused == f"rejected POST /slack/events: no Slack signature ({len(body)} bytes)"
    assert malformed.startswith("rejected POST /slack/events: malformed Slack request: the payload is not")


async def test_a_megabyte_of_unsigned_body_leaves_one_short_line(client, settings, fake, caplog):
    caplog.set_level(logging.DEBUG)
    body = urlencode({"payload": json.dumps(_click_payload(fake, padding="x" * 1_000_000))})
    assert len(body) < settings.max_body_bytes
    for headers in ({}, signed_headers(body, timestamp=int(time.time()) - 3600), {"X-Slack-Signature": "v0=00"}):
        response = await client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        assert response.status == 401
    assert_logs_clean(caplog, "xxxxxxxxxx", fake.response_url())
    assert sum(len(record.getMessage()) for record in caplog.records) < 2_000
    assert rejection_lines(caplog) == [
        f"rejected POST /slack/events: {reason} ({len(body)} bytes)"
        for reason in ("no Slack signature", "stale Slack request timestamp", "no Slack signature")
    ]


@pytest.mark.parametrize("changes, problem", [
    ({"actions": []}, "actions must be a list of objects"),
    ({"actions": "x"}, "actions must be a list of objects"),
    ({"actions": ["x"]}, "actions must be a list of objects"),
    ({"team": "T1"}, "team must be an object"),
    ({"user": "UALICE"}, "user must be an object"),
    ({"team": 42}, "team must be an object"),
    ({"enterprise": 42}, "unexpected field types"),
    ({"user": {"id": 42, "team_id": "T1"}}, "user and team ids must be text"),
    ({"team": {"id": ["T1"]}}, "user and team ids must be text"),
])
async def test_a_signed_click_of_the_wrong_shape_gets_a_clear_400(client, fake, caplog, changes, problem):
    caplog.set_level(logging.DEBUG)
    number = await _page(client)
    body = urlencode({"payload": json.dumps(_click_payload(fake, **changes))})
    response = await post_signed(client, body)
    assert response.status == 400 and (await response.json()) == {"error": f"malformed Slack request: {problem}"}
    await _settle(client)
    assert (await Incident.aget_by_id(number)).status == "TRIGGERED" and fake.responses == []
    assert_logs_clean(caplog, fake.response_url())
    assert rejection_lines(caplog) == [f"rejected POST /slack/events: malformed Slack request: {problem} ({len(body)} bytes)"]


async def test_a_signed_request_nobody_handles_is_a_404_without_its_body_in_the_log(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    body = urlencode({"payload": json.dumps(_click_payload(fake, actions=[{"action_id": "unknown", "value": "secret-value"}]))})
    response = await post_signed(client, body)
    assert response.status == 404
    assert_logs_clean(caplog, fake.response_url(), "secret-value")
    assert rejection_lines(caplog) == [f"rejected POST /slack/events: no handler for this Slack request ({len(body)} bytes)"]


async def test_slash_web_answers_with_a_link_that_signs_in_once(client, fake):
    await post_signed(client, slash_command("web", fake.response_url("web")))
    await _settle(client)
    [answer] = [answer["text"] for answer in fake.responses if answer["name"] == "web"]
    url = answer.split("<", 1)[1].split("|", 1)[0]
    assert url.startswith("http://ackbot.test/signin/") and "Open Ackbot's web view" in answer
    path = url.removeprefix("http://ackbot.test")
    assert "Sign in as Alice" in await (await client.get(path)).text()
    assert (await client.post(path, allow_redirects=False)).status == 303
    assert (await client.post(path, allow_redirects=False)).status == 404


async def test_slash_oncall_take_and_calendar(client, fake):
    from storage.models import OnCallSchedule

    payments = await Team.aget(Team.name == "payments")
    rotation = {"users": ["bob"], "start": "2026-01-05T09:00", "shift": "1w", "days": [], "hours": None}
    await OnCallSchedule.acreate(
        name="payments-primary", team=payments, time_zone="Europe/Berlin", definition={"rotations": [rotation], "overrides": []},
    )
    for name, text in (("who", "oncall"), ("take", "take 1h"), ("after", "oncall payments"), ("calendar", "calendar")):
        await post_signed(client, slash_command(text, fake.response_url(name), trigger_id=name))
        await _settle(client)
    answers = {answer["name"]: answer["text"] for answer in fake.responses}
    assert answers["who"].startswith("```payments-primary: Bob (bob), ")
    assert answers["take"].startswith("You are on call for payments-primary instead of bob (they are told) until ")
    assert answers["after"].startswith("```payments-primary: Alice (alice) by override, ")
    url = answers["calendar"].split("<", 1)[1].split("|", 1)[0]
    assert url.startswith("http://ackbot.test/calendar/ackcal_")
    feed = await client.get(url.removeprefix("http://ackbot.test"))
    assert feed.status == 200 and "SUMMARY:On call: payments-primary (Alice\\, override)" in await feed.text()


async def test_the_oauth_routes_ignore_a_body(client, caplog):
    caplog.set_level(logging.DEBUG)
    for path in ("/slack/install", "/slack/link", "/slack/oauth_redirect?state=x&code=y"):
        response = await client.get(path, data="payload=%5B%5D", allow_redirects=False,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status < 500
    assert_logs_clean(caplog)
