"""Push pages end to end: the real app pages a person whose browser subscription points at a
fake push service; the test decrypts what arrived as the browser would, clicks its actions
through the service worker's endpoint, and watches a gone subscription disappear. Runs on
SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from channels.push import generate_vapid_keys
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.database import database
from storage.models import Incident, IncidentEvent, MagicLinkToken, NotificationLog, PushSubscription, Team, TeamMember, User
from tests.fakes.channel import FixedClock
from tests.fakes.push_service import BrowserSubscription, FakePushService, verify_vapid
from tests.fakes.service import Fault

SUBJECT = "mailto:oncall@example.com"


@pytest.fixture
async def world(aiohttp_client, settings):
    private_key, public_key = generate_vapid_keys()
    clock = FixedClock()
    async with FakePushService() as fake:
        configured = settings.replace(vapid_private_key=Secret(private_key), vapid_subject=SUBJECT)
        client = await aiohttp_client(create_app(configured, clock=clock))
        team = await Team.acreate(name="payments", display_name="Payments")
        alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", time_zone="Europe/Berlin")
        await TeamMember.acreate(team=team, user=alice)
        yield SimpleNamespace(client=client, fake=fake, clock=clock, public_key=public_key, alice=alice)


async def _subscribe(world, name: str) -> BrowserSubscription:
    browser = BrowserSubscription(world.fake.endpoint(name))
    await PushSubscription.acreate(user=world.alice, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)
    return browser


async def _page(world) -> Incident:
    service = world.client.app[SERVICE_KEY]
    incident = (await service.trigger(TriggerRequest(
        title="DB primary down", body="replica lag 900s", priority="CRITICAL", service="db", team="payments",
    ))).incident
    await world.client.app[DISPATCHER_KEY].run_once()
    return incident


async def _rows(kind="ALERT") -> list[NotificationLog]:
    return await database.list(NotificationLog.select().where(NotificationLog.kind == kind).order_by(NotificationLog.id))


def _tokens(message) -> dict[str, str]:
    return {action["action"]: action["url"].rsplit("/a/", 1)[1] for action in message["actions"]}


async def test_the_page_reaches_the_browser_encrypted_signed_and_with_working_links(world):
    browser = await _subscribe(world, "alice-phone")
    incident = await _page(world)
    [request] = world.fake.messages_to("alice-phone")
    message = browser.decrypt(request.body)
    assert message["title"] == f"[CRITICAL] #{incident.id} db: DB primary down"
    assert message["body"].startswith("replica lag 900s\nPayments · level 1 · Sat 28 Nov 2026, 15:00 CET")
    assert [(action["action"], action["title"]) for action in message["actions"]] == [
        ("acknowledge", "Acknowledge"), ("resolve", "Resolve"),
    ]
    assert all(action["url"].startswith("http://ackbot.test/a/") for action in message["actions"])
    headers = {name.lower(): value for name, value in request.headers.items()}
    public_key, claims = verify_vapid(headers["authorization"], browser.endpoint)
    assert public_key == world.public_key and claims["sub"] == SUBJECT
    [row] = await _rows()
    assert (row.channel, row.status, row.provider_id) == ("PUSH", "SENT", f"{world.fake.url}/m/1")
    stored = {token.token_hash for token in await database.list(MagicLinkToken.select())}
    assert len(stored) == 2 and not set(_tokens(message).values()) & stored


async def test_an_action_click_acknowledges_once_and_a_second_is_refused(world):
    browser = await _subscribe(world, "alice-phone")
    incident = await _page(world)
    token = _tokens(browser.decrypt(world.fake.messages_to("alice-phone")[0].body))["acknowledge"]
    first = await world.client.post(f"/push/act/{token}")
    assert first.status == 200 and first.headers["Cache-Control"] == "no-store"
    assert await first.json() == {"ok": True, "changed": True, "message": f"#{incident.id} acknowledged by Alice via push."}
    second = await world.client.post(f"/push/act/{token}")
    answer = await second.json()
    assert second.status == 409 and answer["ok"] is False and answer["error"] == "This action was already used."
    stored = await Incident.aget_by_id(incident.id)
    assert (stored.status, stored.acknowledged_by_name, stored.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "PUSH")
    assert len(await database.list(IncidentEvent.select().where(IncidentEvent.kind == "ACKNOWLEDGED"))) == 1
    await world.client.app[DISPATCHER_KEY].run_once()
    assert len(world.fake.messages_to("alice-phone")) == 1  # the worker already showed Alice the answer


async def test_someone_acting_elsewhere_sends_a_notice_that_replaces_the_page(world):
    browser = await _subscribe(world, "alice-phone")
    incident = await _page(world)
    await world.client.app[SERVICE_KEY].acknowledge(incident.id, Actor("Bob", "SLACK"))
    await world.client.app[DISPATCHER_KEY].run_once()
    notice = browser.decrypt(world.fake.messages_to("alice-phone")[-1].body)
    assert notice["title"] == f"[ACKNOWLEDGED] #{incident.id} db: DB primary down"
    assert notice["body"] == "Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:00 CET"
    assert notice["tag"] == f"ackbot-incident-{incident.id}" and list(_tokens(notice)) == ["resolve"]
    resolved = await world.client.post(f"/push/act/{_tokens(notice)['resolve']}")
    assert (await resolved.json())["message"] == f"#{incident.id} resolved by Alice via push."
    assert (await Incident.aget_by_id(incident.id)).status == "RESOLVED"


async def test_a_concurrent_double_click_acts_once(world):
    browser = await _subscribe(world, "alice-phone")
    incident = await _page(world)
    token = _tokens(browser.decrypt(world.fake.messages_to("alice-phone")[0].body))["resolve"]
    responses = await asyncio.gather(*(world.client.post(f"/push/act/{token}") for _ in range(4)))
    assert sorted(response.status for response in responses) == [200, 409, 409, 409]
    assert len(await database.list(IncidentEvent.select().where(IncidentEvent.kind == "RESOLVED"))) == 1
    assert (await Incident.aget_by_id(incident.id)).status == "RESOLVED"


async def test_unknown_expired_and_void_action_tokens_change_nothing(world):
    browser = await _subscribe(world, "alice-phone")
    incident = await _page(world)
    tokens = _tokens(browser.decrypt(world.fake.messages_to("alice-phone")[0].body))
    unknown = await world.client.post("/push/act/" + "x" * 43)
    assert unknown.status == 404 and (await unknown.json())["ok"] is False
    await world.client.post(f"/push/act/{tokens['resolve']}")
    void = await world.client.post(f"/push/act/{tokens['acknowledge']}")
    assert void.status == 409 and (await void.json())["error"] == "This incident is resolved."
    world.clock.advance(hours=24, seconds=1)
    assert (await world.client.post(f"/push/act/{tokens['acknowledge']}")).status == 404
    assert (await Incident.aget_by_id(incident.id)).acknowledged_at is None


async def test_a_gone_subscription_is_removed_and_its_only_page_fails(world):
    await _subscribe(world, "old-laptop")
    world.fake.mark_gone("old-laptop")
    await _page(world)
    [row] = await _rows()
    assert row.status == "FAILED" and row.error.startswith("subscription ") and "HTTP 410" in row.error
    assert world.fake.url not in row.error
    assert await database.list(PushSubscription.select()) == []


async def test_a_gone_subscription_among_two_is_removed_and_the_page_still_goes_out(world):
    phone = await _subscribe(world, "phone")
    await _subscribe(world, "old-laptop")
    world.fake.mark_gone("old-laptop")
    await _page(world)
    [row] = await _rows()
    assert row.status == "SENT"
    assert [subscription.endpoint for subscription in await database.list(PushSubscription.select())] == [phone.endpoint]


async def test_a_rate_limited_push_waits_as_long_as_the_push_service_asks(world):
    await _subscribe(world, "alice-phone")
    world.fake.fail_next(Fault(429, headers=(("Retry-After", "120"),)))
    await _page(world)
    [row] = await _rows()
    assert row.status == "QUEUED" and "HTTP 429" in row.error
    assert row.next_attempt_at >= world.clock() + timedelta(seconds=120)
    assert len(await database.list(PushSubscription.select())) == 1


async def test_healthz_reports_push_on(world):
    body = await (await world.client.get("/healthz")).json()
    assert body["channels"]["push"] == "on"


async def test_healthz_says_how_to_switch_push_on(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    body = await (await client.get("/healthz")).json()
    assert body["channels"]["push"].startswith("off: set ACKBOT_VAPID_PRIVATE_KEY")  # on PostgreSQL also why (test_first_run)
