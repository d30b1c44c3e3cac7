"""Subscribing a browser through a one-time personal link, as a person and as a link scanner
would: the page, its per-visit credential, the registration, and everything that must be
refused. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from app import Secret, create_app
from bot.access_log import redacted_path
from channels.push import generate_vapid_keys
from incidents import push_links
from storage.database import database
from storage.models import PersonalLinkToken, PushSubscription, User
from tests.fakes.channel import FixedClock
from tests.fakes.push_service import BrowserSubscription
from tests.log_support import assert_logs_clean, rejection_lines

CREDENTIAL = re.compile(r'data-credential="([^"]+)"')
TTL = timedelta(hours=24)


@pytest.fixture
async def world(aiohttp_client, settings):
    private_key, public_key = generate_vapid_keys()
    clock = FixedClock()
    client = await aiohttp_client(create_app(settings.replace(vapid_private_key=Secret(private_key)), clock=clock))
    alice = await User.acreate(handle="alice", name="Alice")
    url = await push_links.SubscribeLinks("http://ackbot.test", TTL).issue(alice.id, clock())
    return SimpleNamespace(client=client, clock=clock, public_key=public_key, alice=alice, path=url.removeprefix("http://ackbot.test"))


async def _visit(world) -> str:
    response = await world.client.get(world.path)
    assert response.status == 200
    return CREDENTIAL.search(await response.text())[1]


async def _register(world, credential: str, body, **headers):
    return await world.client.post(
        "/push/subscriptions", json=body, headers={"Authorization": f"Bearer {credential}", **headers}
    )


def _browser(name="phone") -> BrowserSubscription:
    return BrowserSubscription(f"https://push.example.net/wpush/v2/{name}")


async def test_the_page_carries_the_key_and_a_fresh_credential_and_uses_nothing_up(world):
    first = await world.client.get(world.path)
    html = await first.text()
    assert first.headers["Cache-Control"] == "no-store" and first.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in first.headers["Content-Security-Policy"]
    assert f'data-public-key="{world.public_key}"' in html and "<strong>Alice</strong>" in html
    assert '<script src="../push.js" defer></script>' in html and "<script>" not in html
    assert CREDENTIAL.search(html)[1] != await _visit(world)
    head = await world.client.head(world.path)
    assert head.status == 200
    rows = await database.list(PersonalLinkToken.select())
    assert len(rows) == 3 and not any(row.used for row in rows)  # the link and one credential per GET


async def test_registering_keeps_the_subscription_for_the_person_and_uses_the_link_up(world):
    browser = _browser()
    response = await _register(world, await _visit(world), browser.to_json(), **{"User-Agent": "Firefox/140"})
    assert response.status == 201
    assert (await response.json())["message"] == "Done: this browser will get Ackbot pages for Alice."
    [row] = await database.list(PushSubscription.select())
    assert (row.user_id, row.endpoint, row.p256dh, row.auth, row.user_agent) == (
        world.alice.id, browser.endpoint, browser.p256dh, browser.auth, "Firefox/140",
    )
    raw = await database.run(database.execute_sql, "SELECT auth FROM push_subscription")
    assert browser.auth not in raw.fetchone()[0]
    again = await world.client.get(world.path)
    assert "This link was already used" in await again.text()


async def test_a_second_browser_cannot_use_the_same_link(world):
    first, second = await _visit(world), await _visit(world)
    assert (await _register(world, first, _browser("phone").to_json())).status == 201
    refused = await _register(world, second, _browser("laptop").to_json())
    assert refused.status == 403 and "already used" in (await refused.json())["error"]
    assert len(await database.list(PushSubscription.select())) == 1


async def test_concurrent_registrations_from_one_link_keep_one_browser(world):
    credentials = [await _visit(world) for _ in range(4)]
    responses = await asyncio.gather(
        *(_register(world, credential, _browser(f"b{index}").to_json()) for index, credential in enumerate(credentials))
    )
    assert sorted(response.status for response in responses) == [201, 403, 403, 403]
    assert len(await database.list(PushSubscription.select())) == 1


async def test_the_same_browser_registered_by_someone_else_moves_to_them(world):
    browser = _browser()
    await _register(world, await _visit(world), browser.to_json())
    bob = await User.acreate(handle="bob", name="Bob")
    url = await push_links.SubscribeLinks("http://ackbot.test", TTL).issue(bob.id, world.clock())
    world.path = url.removeprefix("http://ackbot.test")
    assert (await _register(world, await _visit(world), browser.to_json())).status == 201
    [row] = await database.list(PushSubscription.select())
    assert row.user_id == bob.id


@pytest.mark.parametrize("change, field", [
    (lambda body: body.update(endpoint="http://push.example.net/x"), "endpoint"),
    (lambda body: body.update(endpoint="https://push.example.net/" + "x" * 2000), "endpoint"),
    (lambda body: body["keys"].update(p256dh="bm90LWEta2V5"), "keys.p256dh"),
    (lambda body: body["keys"].update(auth="c2hvcnQ"), "keys.auth"),
    (lambda body: body.pop("keys"), "keys"),
])
async def test_a_malformed_subscription_is_refused_with_the_field(world, change, field):
    body = _browser().to_json()
    change(body)
    response = await _register(world, await _visit(world), body)
    assert response.status == 422 and (await response.json())["field"] == field
    assert await database.list(PushSubscription.select()) == []


async def test_missing_bad_or_expired_credentials_are_refused(world):
    credential = await _visit(world)
    no_credential = await world.client.post("/push/subscriptions", json=_browser().to_json())
    assert no_credential.status == 401
    assert (await _register(world, "x" * 43, _browser().to_json())).status == 403
    not_json = await world.client.post("/push/subscriptions", data=b"{", headers={"Authorization": f"Bearer {credential}"})
    assert not_json.status == 400
    world.clock.advance(hours=1, seconds=1)
    assert (await _register(world, credential, _browser().to_json())).status == 403
    assert await database.list(PushSubscription.select()) == []


async def test_json_nested_too_deep_is_a_400_with_one_short_line(world, caplog):
    caplog.set_level(logging.DEBUG)
    credential = await _visit(world)
    body = "[" * 5000 + "]" * 5000
    response = await world.client.post("/push/subscriptions", data=body, headers={"Authorization": f"Bearer {credential}"})
    assert response.status == 400 and (await response.json())["error"] == "the body is nested more than 64 levels deep"
    assert_logs_clean(caplog, credential, "[[[[")
    assert rejection_lines(caplog) == [f"rejected POST /push/subscriptions: the body is not valid JSON ({len(body)} bytes)"]


async def test_an_unknown_link_leaves_one_line_without_its_token(world, caplog):
    caplog.set_level(logging.DEBUG)
    token = "y" * 43
    for method, path in (("GET", f"/push/p/{token}"), ("POST", f"/push/act/{token}"), ("GET", f"/a/{token}"), ("POST", f"/a/{token}")):
        assert (await world.client.request(method, path)).status == 404
    assert rejection_lines(caplog) == [
        "rejected GET /push/p/<token>: unknown or expired push link (0 bytes)",
        "rejected POST /push/act/<token>: unknown or expired action link (0 bytes)",
        "rejected GET /a/<token>: unknown or expired action link (0 bytes)",
        "rejected POST /a/<token>: unknown or expired action link (0 bytes)",
    ]
    assert_logs_clean(caplog)
    assert not [record for record in caplog.records if record.name == "ackbot.rejected" and token in record.getMessage()]


async def test_an_expired_or_unknown_link_gets_the_neutral_page(world):
    unknown = await world.client.get("/push/p/" + "x" * 43)
    world.clock.advance(hours=24, seconds=1)
    expired = await world.client.get(world.path)
    assert unknown.status == expired.status == 404
    assert await unknown.text() == await expired.text()


async def test_with_push_off_the_page_and_registration_say_so(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    page = await client.get("/push/p/" + "x" * 43)
    assert page.status == 503 and "ACKBOT_VAPID_PRIVATE_KEY" in await page.text()
    registration = await client.post("/push/subscriptions", json=_browser().to_json(), headers={"Authorization": "Bearer x"})
    assert registration.status == 503


@pytest.mark.parametrize("path, content_type", [
    ("/push/sw.js", "text/javascript"), ("/push/push.js", "text/javascript"),
    ("/push/manifest.json", "application/manifest+json"),
])
async def test_the_static_files_are_served(world, path, content_type):
    response = await world.client.get(path)
    assert response.status == 200 and response.content_type == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_token_paths_are_redacted_in_the_access_log():
    assert redacted_path("/push/p/abc") == "/push/p/<token>"
    assert redacted_path("/push/act/abc") == "/push/act/<token>"
    assert redacted_path("/push/sw.js") == "/push/sw.js"
