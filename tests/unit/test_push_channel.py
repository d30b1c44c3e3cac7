"""The Web Push adapter against a fake push service: what a browser would decrypt, the VAPID
signature a push service checks, and how each push service answer is classified."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession

from app import Settings, SettingsError
from channels import push_message
from channels.push import PushChannel, PushConfig, generate_vapid_keys, load_vapid_key, public_key_of
from channels.types import NotificationAction, NotificationKind, NotificationPayload, Priority, Recipient
from tests.fakes.push_service import BrowserSubscription, FakePushService, verify_vapid
from tests.fakes.service import Fault

SUBJECT = "mailto:oncall@example.com"


def _payload(*subscriptions: BrowserSubscription, **changes) -> NotificationPayload:
    entries = tuple(subscription.as_recipient_entry(number) for number, subscription in enumerate(subscriptions, 1))
    values = dict(
        incident_id=42, user_id=7, title="DB primary down", body="replica lag 900s", priority=Priority.CRITICAL,
        service="db", team_name="Payments", alert_count=3, escalation_level=1, dashboard_url=None,
        triggered_at=datetime(2026, 11, 28, 14, 0, tzinfo=UTC),
        recipient=Recipient(user_id=7, name="Alice", time_zone="Europe/Berlin", push_subscriptions=entries),
        notification_id=1,
        actions=(
            NotificationAction("acknowledge", "Acknowledge", "primary", "http://ackbot.test/a/ack-token"),
            NotificationAction("resolve", "Resolve", "danger", "http://ackbot.test/a/res-token"),
        ),
    )
    values.update(changes)
    return NotificationPayload(**values)


def _headers(request) -> dict:
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.fixture
async def fake():
    async with FakePushService() as service:
        yield service


@pytest.fixture
def keys():
    return generate_vapid_keys()


@pytest.fixture
async def channel(keys):
    async with ClientSession() as http:
        yield PushChannel(PushConfig(private_key=keys[0], subject=SUBJECT, ttl=3600, timeout=2.0), http)


async def test_the_browser_decrypts_the_page_with_its_facts_and_action_links(fake, channel):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    result = await channel.send(_payload(browser))
    assert result.success and result.provider_id == f"{fake.url}/m/1" and result.gone_endpoints == ()
    [request] = fake.messages_to("alice-phone")
    headers = _headers(request)
    assert headers["content-encoding"] == "aes128gcm"
    assert (headers["ttl"], headers["urgency"], headers["topic"]) == ("3600", "high", "incident-42")
    assert b"DB primary down" not in request.body
    message = browser.decrypt(request.body)
    assert message["title"] == "[CRITICAL] #42 db: DB primary down"
    assert message["body"] == "replica lag 900s\nPayments · level 1 · 3 alerts · Sat 28 Nov 2026, 15:00 CET"
    assert (message["priority"], message["service"], message["incident"]) == ("CRITICAL", "db", 42)
    assert message["tag"] == "ackbot-incident-42" and message["url"] == "http://ackbot.test/a/ack-token"
    assert message["actions"] == [
        {"action": "acknowledge", "title": "Acknowledge", "url": "http://ackbot.test/a/ack-token"},
        {"action": "resolve", "title": "Resolve", "url": "http://ackbot.test/a/res-token"},
    ]


async def test_the_vapid_signature_verifies_with_the_public_key_for_the_endpoints_origin(fake, channel, keys):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    await channel.send(_payload(browser))
    [request] = fake.messages_to("alice-phone")
    public_key, claims = verify_vapid(_headers(request)["authorization"], browser.endpoint)
    assert public_key == keys[1] == public_key_of(keys[0])
    assert claims["sub"] == SUBJECT and claims["exp"] > datetime.now(UTC).timestamp()


async def test_a_status_notice_replaces_the_page_and_offers_only_what_is_left(fake, channel):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    notice = _payload(
        browser, kind=NotificationKind.STATUS, incident_status="ACKNOWLEDGED",
        status_text="Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:02 CET",
        actions=(NotificationAction("resolve", "Resolve", "danger", "http://ackbot.test/a/res-token"),),
    )
    await channel.send(notice)
    [request] = fake.messages_to("alice-phone")
    message = browser.decrypt(request.body)
    assert message["title"] == "[ACKNOWLEDGED] #42 db: DB primary down"
    assert message["body"] == "Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:02 CET"
    assert message["tag"] == "ackbot-incident-42" and [action["action"] for action in message["actions"]] == ["resolve"]
    assert _headers(request)["urgency"] == "normal"


async def test_a_test_notification_has_no_actions_and_no_topic(fake, channel):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    await channel.send(_payload(browser, kind=NotificationKind.TEST, priority=Priority.INFO, actions=()))
    [request] = fake.messages_to("alice-phone")
    message = browser.decrypt(request.body)
    assert message["title"] == "[TEST] Ackbot test notification" and message["actions"] == []
    assert message["incident"] is None and message["url"] is None
    assert "topic" not in _headers(request) and _headers(request)["urgency"] == "normal"


async def test_a_long_body_is_shortened_to_fit_one_push_message(fake, channel):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    await channel.send(_payload(browser, body="ü" * 5000))
    [request] = fake.messages_to("alice-phone")
    message = browser.decrypt(request.body)
    assert message["body"].endswith("…") and len(message["body"]) <= push_message.BODY_LIMIT
    assert len(push_message.encode(_payload(browser, body="ü" * 5000))) <= push_message.MAX_MESSAGE_BYTES


async def test_a_gone_subscription_is_reported_for_removal_and_fails_for_good(fake, channel):
    browser = BrowserSubscription(fake.endpoint("old-laptop"))
    fake.mark_gone("old-laptop")
    result = await channel.send(_payload(browser))
    assert not result.success and not result.temporary
    assert result.gone_endpoints == (browser.endpoint,)
    assert result.error.startswith("subscription 1: HTTP 410") and browser.endpoint not in result.error


@pytest.mark.parametrize("status", [404, 410])
async def test_one_gone_subscription_among_several_still_succeeds(fake, channel, status):
    phone, laptop = BrowserSubscription(fake.endpoint("phone")), BrowserSubscription(fake.endpoint("laptop"))
    if status == 410:
        fake.mark_gone("laptop")
    else:
        laptop.endpoint = f"{fake.url}/push/missing/extra"  # no such route: the fake answers 404
    result = await channel.send(_payload(phone, laptop))
    assert result.success and result.gone_endpoints == (laptop.endpoint,)
    assert len(fake.messages_to("phone")) == 1


async def test_rate_limits_and_server_errors_are_temporary(fake, channel):
    browser = BrowserSubscription(fake.endpoint("alice-phone"))
    fake.fail_next(Fault(429, headers=(("Retry-After", "120"),)), Fault(503))
    limited = await channel.send(_payload(browser))
    assert (limited.success, limited.temporary, limited.retry_after) == (False, True, 120.0)
    assert "HTTP 429" in limited.error
    unavailable = await channel.send(_payload(browser))
    assert (unavailable.temporary, unavailable.gone_endpoints) == (True, ())


async def test_temporary_wins_over_permanent_when_nothing_succeeded(fake, channel):
    phone, laptop = BrowserSubscription(fake.endpoint("phone")), BrowserSubscription(fake.endpoint("laptop"))
    fake.mark_gone("laptop")
    fake.fail_next(Fault(500))
    result = await channel.send(_payload(phone, laptop))
    assert result.temporary and result.gone_endpoints == (laptop.endpoint,)


async def test_an_unreachable_push_service_is_temporary(channel):
    browser = BrowserSubscription("http://127.0.0.1:9/push/nowhere")
    result = await channel.send(_payload(browser))
    assert result.temporary and "unreachable" in result.error


async def test_no_subscription_is_a_permanent_failure(channel):
    result = await channel.send(_payload())
    assert not result.success and not result.temporary and "no push subscription" in result.error


async def test_a_stored_subscription_with_broken_keys_fails_for_good(fake, channel):
    entry = {"id": 3, "endpoint": fake.endpoint("broken"), "p256dh": "bm90LWEta2V5", "auth": "c2VjcmV0"}
    payload = _payload(recipient=Recipient(user_id=7, name="Alice", push_subscriptions=(entry,)))
    result = await channel.send(payload)
    assert not result.success and not result.temporary and result.error.startswith("subscription 3:")
    assert fake.requests == []


def test_vapid_keys_load_from_every_accepted_form_and_a_bad_one_is_a_settings_error(keys):
    private, public = keys
    signer = load_vapid_key(private)
    pem = signer.private_pem().decode()
    assert public_key_of(pem) == public
    with pytest.raises(ValueError, match="P-256 private key"):
        load_vapid_key("not-a-key")
    with pytest.raises(SettingsError, match="ACKBOT_VAPID_PRIVATE_KEY: expected a P-256 private key"):
        Settings.from_env({"ACKBOT_VAPID_PRIVATE_KEY": "not-a-key"})
    settings = Settings.from_env({"ACKBOT_VAPID_PRIVATE_KEY": private})
    assert private not in repr(settings)


@pytest.mark.parametrize("subject", ["ops@example.com", "mailto:a@b", "https://ackbot.example.com/contact", "http://ackbot.example.com"])
def test_a_vapid_subject_push_services_would_refuse_is_a_settings_error(subject):
    with pytest.raises(SettingsError, match="ACKBOT_VAPID_SUBJECT: expected mailto:"):
        Settings.from_env({"ACKBOT_VAPID_SUBJECT": subject})
    assert Settings.from_env({"ACKBOT_VAPID_SUBJECT": "https://ackbot.example.com"}).vapid_subject == "https://ackbot.example.com"
