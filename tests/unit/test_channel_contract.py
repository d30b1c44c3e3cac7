"""The channel contract: classification, Retry-After, backoff, error handling, formatting."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone

import aiohttp
import pytest

from channels.base import (
    BaseChannel,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    backoff_delay,
    classify_http_failure,
    format_timestamp,
    parse_retry_after,
    redact,
    truncate,
)
from channels.types import (
    Channel,
    ChannelDeliveryResult,
    NotificationChannel,
    NotificationPayload,
    Priority,
    ProviderStatus,
    Recipient,
    provider_status,
)

NOW = datetime(2026, 11, 28, 14, 2, tzinfo=UTC)
SLACK_TOKEN = "xoxb-1234-5678-AbCdEfGhIjKl"


def make_payload(**changes) -> NotificationPayload:
    fields = dict(
        incident_id=42,
        user_id=7,
        title="DB primary down",
        body="replication lag 300s",
        priority=Priority.CRITICAL,
        service="payments",
        team_name="core",
        alert_count=1,
        escalation_level=1,
        dashboard_url=None,
        triggered_at=NOW,
        recipient=Recipient(user_id=7, name="Alice"),
        notification_id=1001,
    )
    return NotificationPayload(**(fields | changes))


class FakeChannel(BaseChannel):
    """Delivers by running whatever it was given: a result to return or an exception to raise."""

    name = Channel.SLACK

    def __init__(self, outcome):
        self.outcome = outcome

    async def deliver(self, payload):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


# --- types -------------------------------------------------------------------------------------


def test_a_base_channel_satisfies_the_protocol():
    assert isinstance(FakeChannel(ChannelDeliveryResult.sent()), NotificationChannel)
    assert not isinstance(object(), NotificationChannel)


async def test_provider_status_is_none_unless_the_channel_reports_one():
    class Reporting(FakeChannel):
        async def get_provider_status(self):
            return ProviderStatus(healthy=False, latency_ms=12.5)

    assert await provider_status(FakeChannel(None)) is None
    assert await provider_status(Reporting(None)) == ProviderStatus(healthy=False, latency_ms=12.5)


def test_result_constructors():
    assert ChannelDeliveryResult.sent("m1") == ChannelDeliveryResult(success=True, provider_id="m1")
    delivered = ChannelDeliveryResult.delivered("m1", message_reference={"ts": "1.2"})
    assert delivered.success and delivered.delivered_at.tzinfo is not None
    assert delivered.message_reference == {"ts": "1.2"}
    assert ChannelDeliveryResult.delivered(at=NOW).delivered_at == NOW
    temporary = ChannelDeliveryResult.temporary_failure("busy", retry_after=5)
    assert (temporary.success, temporary.temporary, temporary.retry_after) == (False, True, 5)
    permanent = ChannelDeliveryResult.permanent_failure("gone")
    assert (permanent.success, permanent.temporary, permanent.error) == (False, False, "gone")


def test_payload_is_frozen_keyword_only_and_checked():
    payload = make_payload()
    with pytest.raises(FrozenInstanceError):
        payload.title = "changed"
    with pytest.raises(TypeError):
        NotificationPayload(42, 7)  # type: ignore[misc]
    with pytest.raises(ValueError, match="aware"):
        make_payload(triggered_at=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="recipient"):
        make_payload(recipient=Recipient(user_id=8, name="Bob"))


# --- classify_http_failure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "temporary", "retry_after"),
    [
        (429, {"Retry-After": "0"}, True, 0.0),
        (429, {"Retry-After": "5"}, True, 5.0),
        (429, {"retry-after": "Sat, 28 Nov 2026 14:03:30 GMT"}, True, 90.0),
        (429, {}, True, None),
        (500, {}, True, None),
        (502, {}, True, None),
        (503, {"Retry-After": "120"}, True, 120.0),
        (408, {}, True, None),
        (425, {}, True, None),
        (400, {"Retry-After": "5"}, False, None),
        (401, {}, False, None),
        (403, {}, False, None),
        (404, {}, False, None),
    ],
)
def test_http_failure_classification(status, headers, temporary, retry_after):
    result = classify_http_failure(status, headers, "body", now=NOW)
    assert not result.success
    assert result.temporary is temporary
    assert result.retry_after == retry_after
    assert result.error == f"HTTP {status}: body"


def test_http_failure_detail_is_cut_to_200_characters_on_one_line():
    result = classify_http_failure(503, {}, "line one\nline two " + "x" * 500, now=NOW)
    detail = result.error.removeprefix("HTTP 503: ")
    assert len(detail) == 200 and detail.startswith("line one line two") and detail.endswith("…")
    assert classify_http_failure(500, {}, now=NOW).error == "HTTP 500"


# --- parse_retry_after -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("Sat, 28 Nov 2026 14:04:00 GMT", 120.0),
        ("Sat, 28 Nov 2026 14:04:00 -0000", 120.0),
        ("Saturday, 28-Nov-26 14:04:00 GMT", 120.0),
        ("Sat, 28 Nov 2026 14:02:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("1e3", None),
        ("5 seconds", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


# --- backoff_delay -----------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_the_cap():
    delays = [backoff_delay(attempt, random=lambda: 1.0) for attempt in range(1, 12)]
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert backoff_delay(10_000, random=lambda: 1.0) == 300


def test_backoff_jitter_keeps_at_least_half_the_delay():
    assert backoff_delay(3, random=lambda: 0.0) == 4
    assert backoff_delay(3, random=lambda: 0.5) == 6
    assert backoff_delay(3, random=lambda: 0.999) < 8


def test_backoff_treats_attempts_below_one_as_the_first():
    assert backoff_delay(0, random=lambda: 1.0) == backoff_delay(-3, random=lambda: 1.0) == 2


def test_backoff_honours_retry_after_even_above_the_cap():
    assert backoff_delay(1, retry_after=30, random=lambda: 1.0) == 30
    assert backoff_delay(5, retry_after=3, random=lambda: 1.0) == 32
    assert backoff_delay(20, retry_after=900, random=lambda: 1.0) == 900
    assert backoff_delay(2, base=1.0, cap=10.0, random=lambda: 0.0) == 1


# --- with_error_handling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exception", "temporary", "retry_after"),
    [
        (TemporaryDeliveryError("rate limited", retry_after=12.0), True, 12.0),
        (PermanentDeliveryError("no such user"), False, None),
        (TimeoutError(), True, None),
        (TimeoutError("read timed out"), True, None),
        (aiohttp.ClientConnectionError("refused"), True, None),
        (aiohttp.ServerTimeoutError("slow"), True, None),
        (aiohttp.ClientPayloadError("truncated"), True, None),
        (ConnectionRefusedError("smtp down"), True, None),
        (KeyError("channel"), False, None),
        (ValueError("bad"), False, None),
    ],
)
async def test_exceptions_become_classified_failures(exception, temporary, retry_after, caplog):
    caplog.set_level(logging.WARNING, logger="ackbot.channels")
    result = await FakeChannel(exception).send(make_payload())
    assert not result.success
    assert result.temporary is temporary
    assert result.retry_after == retry_after
    assert result.error
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.name == "ackbot.channels"
    message = record.getMessage()
    assert "SLACK" in message and "incident 42" in message and "user 7" in message
    assert result.error in message


async def test_a_raised_http_error_is_classified_by_status():
    def response_error(status, headers=None):
        return aiohttp.ClientResponseError(None, (), status=status, message="nope", headers=headers)

    busy = await FakeChannel(response_error(503, {"Retry-After": "5"})).send(make_payload())
    assert (busy.temporary, busy.retry_after, busy.error) == (True, 5.0, "HTTP 503: nope")
    forbidden = await FakeChannel(response_error(403)).send(make_payload())
    assert (forbidden.success, forbidden.temporary) == (False, False)


async def test_cancellation_propagates():
    with pytest.raises(asyncio.CancelledError):
        await FakeChannel(asyncio.CancelledError()).send(make_payload())


async def test_success_is_returned_unchanged_and_not_logged(caplog):
    delivered = ChannelDeliveryResult.delivered("m1", at=NOW)
    assert await FakeChannel(delivered).send(make_payload()) is delivered
    assert not caplog.records


async def test_secrets_are_redacted_from_raised_and_returned_errors(caplog):
    caplog.set_level(logging.WARNING, logger="ackbot.channels")
    raised = await FakeChannel(ValueError(f"auth failed for {SLACK_TOKEN}")).send(make_payload())
    returned_failure = ChannelDeliveryResult.temporary_failure(f"POST https://x/?token={SLACK_TOKEN} failed")
    returned = await FakeChannel(returned_failure).send(make_payload())
    for result in (raised, returned):
        assert SLACK_TOKEN not in result.error and "REDACTED" in result.error
    assert returned.temporary
    assert len(caplog.records) == 2
    assert SLACK_TOKEN not in caplog.text and "AbCdEfGhIjKl" not in caplog.text


# --- redact ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token xoxb-1111-2222-abcDEF rejected", "abcDEF"),
        ("user token xoxp-1-2-3-zzz", "zzz"),
        ("app token xapp-1-A0-99-deadbeef", "deadbeef"),
        ("refresh xoxe.xoxp-1-Mi0yLTE", "Mi0yLTE"),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("authorization: basic QUNhYmM6c2VjcmV0", "QUNhYmM6c2VjcmV0"),
        ("GET /x?access_token=s3cr3t&page=2", "s3cr3t"),
        ("form: password=hunter2", "hunter2"),
        ("url ?key=AIzaSyXYZ", "AIzaSyXYZ"),
        ("client_secret=shh&x=1", "shh"),
        ("secret=abc123", "abc123"),
        ("connect smtp://alice:pa55word@mail.example.com:587 failed", "pa55word"),
        ("jwt eyJhbGciOi.eyJzdWIiOjF9.c2lnbmF0dXJl expired", "c2lnbmF0dXJl"),
    ],
)
def test_redact_removes_secrets(text, secret):
    redacted = redact(text)
    assert secret not in redacted
    assert "[REDACTED]" in redacted
    assert redact(redacted) == redacted


def test_redact_keeps_what_is_not_secret():
    text = "HTTP 404: channel_not_found at https://slack.com:443/api/chat.postMessage?page=2"
    assert redact(text) == text
    assert redact("smtp://alice:pw@host") == "smtp://alice:[REDACTED]@host"


# --- format_timestamp --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (NOW, "Europe/Berlin", "Sat 28 Nov 2026, 15:02 CET"),
        (datetime(2026, 7, 4, 12, 0, tzinfo=UTC), "Europe/Berlin", "Sat 4 Jul 2026, 14:00 CEST"),
        (NOW, "America/New_York", "Sat 28 Nov 2026, 09:02 EST"),
        (datetime(2026, 7, 4, 3, 30, tzinfo=UTC), "America/New_York", "Fri 3 Jul 2026, 23:30 EDT"),
        (NOW, "UTC", "Sat 28 Nov 2026, 14:02 UTC"),
        (NOW, "Mars/Olympus_Mons", "Sat 28 Nov 2026, 14:02 UTC"),
        (NOW, "../../etc/passwd", "Sat 28 Nov 2026, 14:02 UTC"),
        (NOW, "", "Sat 28 Nov 2026, 14:02 UTC"),
        (NOW.astimezone(timezone(timedelta(hours=5))), "Europe/Berlin", "Sat 28 Nov 2026, 15:02 CET"),
    ],
)
def test_format_timestamp(moment, zone, expected):
    assert format_timestamp(moment, zone) == expected


def test_format_timestamp_refuses_naive_times():
    with pytest.raises(ValueError):
        format_timestamp(NOW.replace(tzinfo=None), "UTC")


# --- truncate ----------------------------------------------------------------------------------


def test_truncate_leaves_text_that_fits():
    assert truncate("hello", 5) == "hello"
    assert truncate("", 0) == ""


def test_truncate_edge_limits():
    assert truncate("hello", 0) == ""
    assert truncate("hello", -3) == ""
    assert truncate("hello", 1) == "…"
    assert truncate("hello", 4) == "hel…"


def test_truncate_prefers_a_nearby_word_boundary():
    assert truncate("the quick brown fox jumps", 16) == "the quick brown…"
    assert truncate("the quick brown fox jumps", 18) == "the quick brown…"
    assert truncate("alpha beta  gamma", 12) == "alpha beta…"
    # No boundary in the last 20% of the room: cut mid-word rather than lose most of the text.
    assert truncate("the quick brown fox jumps", 15) == "the quick brow…"
    assert truncate("a verylongwordwithoutanyspaces", 20) == "a verylongwordwitho…"


def test_truncate_never_exceeds_the_limit():
    texts = ["word " * 40, "x" * 200, "a  b\n" * 50, " " * 30 + "tail", "héllo wörld ✓ " * 15]
    for text in texts:
        for limit in range(-1, len(text) + 3):
            cut = truncate(text, limit)
            assert len(cut) <= max(limit, 0)
            if len(text) <= limit:
                assert cut == text
            elif limit > 0:
                assert cut.endswith("…") and text.startswith(cut[:-1])
