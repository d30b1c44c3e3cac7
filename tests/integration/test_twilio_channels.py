"""The SMS and voice channels against a fake Twilio REST API: what reaches Twilio, and how each
kind of error answer is classified (retry later, or fail for good)."""
from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from app import Secret, Settings, channel_configs
from channels.registry import build_channels, describe
from channels.types import Channel, NotificationAction, NotificationKind, NotificationPayload, Priority, Recipient
from tests.fakes.service import Fault
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, twilio_error

PUBLIC_URL = "https://ackbot.example.com"
ALICE = "+15550100001"


@pytest.fixture
async def twilio():
    async with FakeTwilio() as fake:
        yield fake


def twilio_settings(api_url: str, **changes) -> Settings:
    values = dict(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN), twilio_from_number=FROM_NUMBER,
        twilio_api_url=api_url, public_url=PUBLIC_URL, send_timeout=0.5,
    )
    values.update(changes)
    return Settings(**values).with_defaults()


@pytest.fixture
async def channels(twilio):
    async with aiohttp.ClientSession() as session:
        yield build_channels(channel_configs(twilio_settings(twilio.url)), session)


def page(kind=NotificationKind.ALERT, phone=ALICE) -> NotificationPayload:
    return NotificationPayload(
        incident_id=42, user_id=1, title="DB primary down", body="", priority=Priority.CRITICAL, service="payments",
        team_name="Payments", alert_count=1, escalation_level=1, dashboard_url=None,
        triggered_at=datetime(2026, 11, 28, 14, 0, tzinfo=UTC), recipient=Recipient(1, "Alice", phone=phone),
        notification_id=7, kind=kind,
        actions=(NotificationAction("acknowledge", "Acknowledge"), NotificationAction("resolve", "Resolve")),
    )


def test_sms_and_voice_are_on_only_with_sid_token_and_number():
    with_all = build_channels(channel_configs(twilio_settings("https://api.twilio.com")), None)
    assert set(with_all) >= {Channel.SMS, Channel.VOICE}
    for missing in ({"twilio_auth_token": None}, {"twilio_from_number": ""}, {"twilio_account_sid": ""}):
        channels = build_channels(channel_configs(twilio_settings("https://api.twilio.com", **missing)), None)
        assert Channel.SMS not in channels and Channel.VOICE not in channels
        assert describe(channels)["sms"].startswith("off: set ACKBOT_TWILIO_ACCOUNT_SID")


async def test_an_sms_goes_to_the_configured_api_with_a_status_callback(twilio, channels):
    result = await channels[Channel.SMS].send(page())
    assert result.success and not result.temporary and result.delivered_at is None
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": ALICE, "From": FROM_NUMBER, "Body": "CRITICAL #42 payments: DB primary down. Reply ACK 42 or RES 42",
        "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status",
    }
    assert result.provider_id == twilio.messages[0]["sid"] and result.provider_id.startswith("SM")


async def test_a_call_asks_ackbot_for_its_twiml_and_reports_answered_and_completed(twilio, channels):
    result = await channels[Channel.VOICE].send(page())
    assert result.success and result.provider_id == twilio.calls[0]["sid"] and result.provider_id.startswith("CA")
    call = twilio.calls[0]
    assert (call["To"], call["From"], call["Url"], call["Method"]) == (ALICE, FROM_NUMBER, f"{PUBLIC_URL}/twilio/voice/7", "POST")
    assert (call["StatusCallback"], call["StatusCallbackMethod"]) == (f"{PUBLIC_URL}/twilio/voice/status", "POST")
    assert call["StatusCallbackEvent"] == ["answered", "completed"]

    test_call = await channels[Channel.VOICE].send(page(kind=NotificationKind.TEST))
    assert test_call.success and twilio.calls[1]["Url"] == f"{PUBLIC_URL}/twilio/voice/7"


async def test_nothing_is_sent_without_a_number_or_for_a_status_notice_by_voice(twilio, channels):
    for channel, payload in ((Channel.SMS, page(phone=None)), (Channel.VOICE, page(phone=None)),
                             (Channel.VOICE, page(kind=NotificationKind.STATUS))):
        result = await channels[channel].send(payload)
        assert not result.success and not result.temporary
    assert twilio.requests == []


@pytest.mark.parametrize(
    "fault, temporary, retry_after, error",
    [
        (twilio_error(400, 21211, "The 'To' number +1555 is not a valid phone number."), False, None,
         "HTTP 400: Twilio error 21211: The 'To' number +1555 is not a valid phone number."),
        (twilio_error(400, 21614, "'To' number is not a valid mobile number"), False, None,
         "HTTP 400: Twilio error 21614: 'To' number is not a valid mobile number"),
        (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), False, None,
         "HTTP 400: Twilio error 21610: Attempt to send to unsubscribed recipient (they replied STOP to this number;"
         " replying START lets Ackbot text them again)"),
        (twilio_error(404, 20404, "The requested resource was not found"), False, None,
         "HTTP 404: Twilio error 20404: The requested resource was not found"),
        (twilio_error(429, 20429, "Too Many Requests", retry_after="30"), True, 30.0,
         "HTTP 429: Twilio error 20429: Too Many Requests"),
        (twilio_error(400, 20429, "Too Many Requests"), True, None, "HTTP 429: Twilio error 20429: Too Many Requests"),
        (twilio_error(503, 20500, "Service unavailable", retry_after="Sat, 28 Nov 2099 14:00:00 GMT"), True, "future",
         "HTTP 503: Twilio error 20500: Service unavailable"),
        (Fault(status=502, body="<html>Bad Gateway</html>", content_type="text/html"), True, None,
         "HTTP 502: <html>Bad Gateway</html>"),
    ],
)
async def test_error_answers_are_classified(twilio, channels, fault, temporary, retry_after, error):
    for channel in (Channel.SMS, Channel.VOICE):
        twilio.fail_next(fault)
        result = await channels[channel].send(page())
        assert (result.success, result.temporary, result.error) == (False, temporary, error)
        if retry_after == "future":
            assert result.retry_after > 3600
        else:
            assert result.retry_after == retry_after
    assert twilio.messages == [] and twilio.calls == []


async def test_a_wrong_auth_token_fails_for_good_without_showing_the_token(twilio):
    async with aiohttp.ClientSession() as session:
        channels = build_channels(channel_configs(twilio_settings(twilio.url, twilio_auth_token=Secret("not-the-token"))), session)
        result = await channels[Channel.SMS].send(page())
    assert (result.success, result.temporary, result.error) == (False, False, "HTTP 401: Twilio error 20003: Authenticate")
    assert "not-the-token" not in repr(channels[Channel.SMS].api.__dict__)


async def test_a_slow_answer_is_a_timeout_and_a_temporary_failure(twilio, channels):
    twilio.fail_next(Fault(status=200, delay=1.5))
    result = await channels[Channel.SMS].send(page())
    assert (result.success, result.temporary) == (False, True)
    assert "Timeout" in result.error
    assert (await channels[Channel.SMS].send(page())).success


async def test_an_unreachable_api_is_a_temporary_failure():
    async with aiohttp.ClientSession() as session:
        channels = build_channels(channel_configs(twilio_settings("http://127.0.0.1:9")), session)
        result = await channels[Channel.VOICE].send(page())
    assert (result.success, result.temporary) == (False, True)


async def test_twilio_environment_variables_cannot_redirect_the_client(twilio, channels, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    assert (await channels[Channel.SMS].send(page())).success
    assert len(twilio.messages) == 1
