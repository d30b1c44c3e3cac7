"""The fault matrix: every channel against its fake provider, told to fail in each way providers
fail. For each (channel, fault) the real application pages Alice and the dispatcher sends; the
test checks what the outbox did with the answer:

- temporary: the row is QUEUED again, no earlier than the provider's Retry-After (the clock is a
  FixedClock, so ``next_attempt_at - now`` is exact); after ``MAX_ATTEMPTS`` such answers it is
  FAILED "(after 3 attempts)";
- permanent: FAILED at the first answer;
- sent: the answer counts as a success.

Every attempt is counted once (``attempt_count`` equals the requests the provider received for
the page), and a FAILED page moves escalation on: Alice's secondary tier is paged at once.

Backoff is base 1 s, cap 1 s, so without a Retry-After a retry waits 0.5-1 s (equal jitter);
a Retry-After is a floor above that. The matrix runs on SQLite only: what it tests is each
adapter's classification and the dispatcher's use of it; the outbox's database behaviour is
covered on both databases by the crash tests.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import aiohttp
import pytest

from app import Secret, channel_configs, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from channels.push import generate_vapid_keys
from channels.registry import build_channels
from incidents.intake import TriggerRequest
from storage.database import database
from storage.enums import Channel, DeliveryStatus, EventKind, Tier
from storage.models import (
    ChannelPreference,
    IncidentEvent,
    NotificationLog,
    PushSubscription,
    SlackConnection,
    SlackInstallation,
    Team,
    TeamMember,
    TeamsConnection,
    User,
)
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.channel import FixedClock, ScriptedChannel
from tests.fakes.push_service import BrowserSubscription, FakePushService
from tests.fakes.service import Fault
from tests.fakes.slack_api import CLIENT_ID, FakeSlackAPI
from tests.fakes.smtp_server import RecordingHandler, SmtpServer, free_port
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, twilio_error
from tests.integration.slack_support import slack_settings

MAX_ATTEMPTS = 3
SEND_TIMEOUT = 0.2  # in the timeout cases; the others allow 5 s, so a busy machine cannot time them out
SLOW = SEND_TIMEOUT + 0.2  # a provider that answers after this has timed out
JITTER = (0.5, 1.0)  # the retry wait without a Retry-After (backoff base = cap = 1 s)
TEAMS_APP_ID = "00000000-0000-0000-0000-00000000a11c"

TEMPORARY, PERMANENT, SENT = "temporary", "permanent", "sent"


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only (see the module docstring)."""
    return f"sqlite:///{tmp_path / 'ackbot.db'}"


# --- the faults ------------------------------------------------------------------------------


def _http_date(seconds_from_now: int) -> str:
    # Retry-After dates are read against the wall clock, not the app's clock.
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def _retry_after(value: Callable[[], str] | None) -> Callable[[], tuple]:
    return lambda: (("Retry-After", value()),) if value else ()


def _http(status: int, body: str = '{"error": "injected"}', retry_after=None, content_type="application/json",
          delay: float = 0.0) -> Callable[[], Fault]:
    """A fault made fresh for each attempt (an HTTP-date Retry-After is relative to now)."""
    headers = _retry_after(retry_after)
    return lambda: Fault(status=status, body=body, headers=headers(), content_type=content_type, delay=delay)


@dataclass(frozen=True)
class Case:
    """One row of the matrix. ``wait`` bounds ``next_attempt_at - now`` after a temporary failure;
    ``error`` must appear in the recorded error. ``fault`` makes what one attempt meets; ``via``
    says where it is injected: the provider's API (default), the Teams token endpoint, the SMTP
    server, or nowhere ("refused": nothing listens where the channel connects). ``times_out``:
    the fault is a slow answer, so the send timeout is short."""

    name: str
    fault: Callable
    outcome: str
    wait: tuple[float, float] | None = None
    error: str = ""
    via: str = "api"
    check: Callable | None = None
    times_out: bool = False


# What every HTTP provider may answer, and the generic rule: 408/429/5xx and timeouts are
# temporary (honouring Retry-After), other 4xx are permanent. (Error texts differ per adapter;
# the channel-specific rows below check them.)
GENERIC = [
    Case("timeout", _http(503, delay=SLOW), TEMPORARY, JITTER, times_out=True),
    Case("500", _http(500), TEMPORARY, JITTER),
    Case("502 html", _http(502, "<html>Bad Gateway</html>", content_type="text/html"), TEMPORARY, JITTER),
    Case("503", _http(503), TEMPORARY, JITTER),
    Case("429 retry-after 0", _http(429, retry_after=lambda: "0"), TEMPORARY, JITTER),
    Case("429 retry-after 5", _http(429, retry_after=lambda: "5"), TEMPORARY, (5.0, 5.0)),
    Case("429 retry-after date", _http(429, retry_after=lambda: _http_date(120)), TEMPORARY, (118.0, 120.0)),
    Case("429 no retry-after", _http(429), TEMPORARY, JITTER),
    Case("400", _http(400), PERMANENT),
    Case("401", _http(401), PERMANENT),
    Case("403", _http(403), PERMANENT),
]


def _generic(*, replace: dict[str, Case] | None = None) -> list[Case]:
    replace = replace or {}
    return [replace.get(case.name, case) for case in GENERIC]


def _twilio(status: int, code: int, message: str, retry_after: str | None = None) -> Callable[[], Fault]:
    return lambda: twilio_error(status, code, message, retry_after)


# Twilio: the generic rule on the HTTP status; Twilio's own rate-limit code 20429 is temporary
# whatever the status, every other Twilio error code is permanent (channels/twilio_client.py).
TWILIO = _generic() + [
    Case("twilio 401 20003", _twilio(401, 20003, "Authenticate"), PERMANENT, error="Twilio error 20003"),
    Case("twilio 400 21211 invalid number", _twilio(400, 21211, "Invalid 'To' Phone Number"), PERMANENT,
         error="Twilio error 21211"),
    Case("twilio 400 21610 unsubscribed", _twilio(400, 21610, "Attempt to send to unsubscribed recipient"),
         PERMANENT, error="replied STOP"),
    Case("twilio 429 20429 retry-after 5", _twilio(429, 20429, "Too Many Requests", "5"), TEMPORARY, (5.0, 5.0),
         "Twilio error 20429"),
    Case("malformed 201 not json", _http(201, "<html>hello</html>", content_type="text/html"), PERMANENT,
         error="JSONDecodeError"),
    Case("malformed 201 json without sid", _http(201, '{"status": "queued"}'), PERMANENT, error="SID"),
]


async def _gone(world) -> None:
    assert await database.run(PushSubscription.select().count) == 0, "the disowned subscription is deleted"


# Web Push: the generic rule; 404/410 mean the subscription is gone (deleted, permanent). A push
# service's answer has no body Ackbot reads: any 2xx up to 202 is a success (pywebpush), so a
# 200 with a junk body is SENT.
PUSH = _generic() + [
    Case("404 gone", _http(404), PERMANENT, error="removed", check=_gone),
    Case("410 gone", _http(410), PERMANENT, error="removed", check=_gone),
    Case("malformed 200 junk body", _http(200, "<html>?</html>", content_type="text/html"), SENT),
]


def _slack(error: str, status: int = 200, retry_after=None) -> Callable[[], Fault]:
    return _http(status, f'{{"ok": false, "error": "{error}"}}', retry_after)


# Slack reports most errors as HTTP 200 {"ok": false, "error": ...}: ratelimited (also sent as
# HTTP 429), internal_error, fatal_error, service_unavailable and request_timeout are temporary;
# every other error (revoked or invalid token, unknown channel, inactive account) is permanent.
SLACK = _generic(replace={
    "429 retry-after 5": Case("429 retry-after 5", _slack("ratelimited", 429, lambda: "5"), TEMPORARY, (5.0, 5.0),
                              "ratelimited"),
}) + [
    Case("ok:false ratelimited retry-after 5", _slack("ratelimited", retry_after=lambda: "5"), TEMPORARY, (5.0, 5.0),
         "Slack conversations.open: ratelimited"),
    Case("ok:false internal_error", _slack("internal_error"), TEMPORARY, JITTER, "internal_error"),
    Case("ok:false service_unavailable", _slack("service_unavailable"), TEMPORARY, JITTER, "service_unavailable"),
    Case("ok:false channel_not_found", _slack("channel_not_found"), PERMANENT, error="channel_not_found"),
    Case("ok:false not_in_channel", _slack("not_in_channel"), PERMANENT, error="not_in_channel"),
    Case("ok:false invalid_auth", _slack("invalid_auth"), PERMANENT, error="invalid_auth"),
    Case("ok:false token_revoked", _slack("token_revoked"), PERMANENT, error="token_revoked"),
    Case("ok:false account_inactive", _slack("account_inactive"), PERMANENT, error="account_inactive"),
    Case("malformed 200 html", _http(200, "<html>hi</html>", content_type="text/html"), PERMANENT,
         error="Slack conversations.open: HTTP 200"),
    Case("malformed 200 ok without channel", _http(200, '{"ok": true}'), PERMANENT),
    Case("malformed 200 json content-type, body not json", _http(200, "not json at all"), PERMANENT,
         error="Slack conversations.open"),
    Case("malformed 503 json content-type, body not json", _http(503, "upstream connect error"), TEMPORARY,
         JITTER, "503"),
]


async def _fresh_token_each_time(world) -> None:
    used = [request.headers["Authorization"] for request in world.fake.requests if "/activities" in request.path]
    assert len(set(used)) == MAX_ATTEMPTS, "each 401 made the channel fetch a new bot token"


# Teams: the generic rule, except that a Bot Connector 401 is temporary: the channel forgets its
# bot token and fetches a new one for the next attempt (channels/teams.py). The token endpoint's
# own failures are classified by the generic rule too. A 2xx without an activity id is permanent.
TEAMS = _generic(replace={
    "401": Case("401", _http(401), TEMPORARY, JITTER, "rejected the bot's token", check=_fresh_token_each_time),
}) + [
    Case("404 not in roster", _http(404, '{"error": {"code": "BotNotInConversationRoster", "message": "no"}}'),
         PERMANENT, error="BotNotInConversationRoster"),
    Case("token endpoint 503", _http(503), TEMPORARY, JITTER, "token endpoint", via="token"),
    Case("token endpoint 401 invalid_client", _http(401, '{"error": "invalid_client"}'), PERMANENT,
         error="invalid_client", via="token"),
    Case("malformed 201 not json", _http(201, "<html>ok</html>", content_type="text/html"), PERMANENT,
         error="no activity id"),
    Case("malformed 201 json without id", _http(201, '{"status": "ok"}'), PERMANENT, error="no activity id"),
]


def _smtp(reply: str) -> Callable[[], str]:
    return lambda: reply


# Email over SMTP: a 4xx reply, a timeout or a refused connection is temporary; a 5xx reply is
# permanent (channels/email.py). SMTP has no Retry-After. Faults are answers to RCPT TO.
EMAIL = [
    Case("timeout", lambda: SLOW, TEMPORARY, JITTER, via="smtp", times_out=True),
    Case("connection refused", lambda: None, TEMPORARY, JITTER, "SMTP server unreachable", via="refused"),
    Case("421 service not available", _smtp("421 4.3.2 Service not available"), TEMPORARY, JITTER, "421", via="smtp"),
    Case("450 mailbox busy", _smtp("450 4.2.1 Mailbox busy, try later"), TEMPORARY, JITTER, "SMTP 450", via="smtp"),
    Case("451 local error", _smtp("451 4.3.0 Local error in processing"), TEMPORARY, JITTER, "SMTP 451", via="smtp"),
    Case("452 insufficient storage", _smtp("452 4.3.1 Insufficient storage"), TEMPORARY, JITTER, "SMTP 452",
         via="smtp"),
    Case("550 no such user", _smtp("550 5.1.1 No such user"), PERMANENT, error="SMTP 550", via="smtp"),
    Case("553 bad address", _smtp("553 5.1.3 Bad destination address"), PERMANENT, error="SMTP 553", via="smtp"),
    Case("554 rejected", _smtp("554 5.7.1 Rejected by policy"), PERMANENT, error="SMTP 554", via="smtp"),
]

MATRIX = {
    Channel.SMS: TWILIO, Channel.VOICE: TWILIO, Channel.PUSH: PUSH, Channel.SLACK: SLACK, Channel.TEAMS: TEAMS,
    Channel.EMAIL: EMAIL,
}


def _cases():
    for channel, cases in MATRIX.items():
        for entry in cases:
            if isinstance(entry, Case):
                yield pytest.param(channel, entry, id=f"{channel.lower()}-{entry.name}")
            else:  # a pytest.param carrying marks
                [case] = entry.values
                yield pytest.param(channel, case, marks=entry.marks, id=f"{channel.lower()}-{case.name}")


# --- the world: the app, the fake provider, Alice ---------------------------------------------


class FaultySmtpHandler(RecordingHandler):
    """The recording SMTP handler, answering RCPT with queued faults first: a reply line, or a
    delay in seconds before a 451 (longer than the client waits = a timeout)."""

    def __init__(self):
        super().__init__()
        self.faults: deque = deque()
        self.rcpt_count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_count += 1
        if not self.faults:
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)
        fault = self.faults.popleft()
        if isinstance(fault, float):
            await asyncio.sleep(fault)
            return "451 4.3.0 Too slow"
        return fault


class FaultySmtpServer(SmtpServer):
    def __init__(self):
        super().__init__()
        self.handler = self.controller.handler = FaultySmtpHandler()


@dataclass
class Provider:
    """A channel pointed at its fake: the settings, the fake, how many requests the fake got for
    Alice's page, and how to give Alice an address on the channel (beyond email and phone)."""

    settings: object
    fake: object
    requests: Callable[[], int]
    link: Callable | None = None


async def _twilio_provider(channel: Channel, settings, stack: AsyncExitStack, case: Case) -> Provider:
    fake = await stack.enter_async_context(FakeTwilio())
    configured = settings.replace(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN), twilio_from_number=FROM_NUMBER,
        twilio_api_url=fake.url,
    )
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/{'Messages' if channel == Channel.SMS else 'Calls'}.json"
    return Provider(configured, fake, lambda: len(fake.requests_to(path)))


async def _push_provider(channel: Channel, settings, stack: AsyncExitStack, case: Case) -> Provider:
    fake = await stack.enter_async_context(FakePushService())

    async def subscribe(alice):
        browser = BrowserSubscription(fake.endpoint("alice"))
        await PushSubscription.acreate(user=alice, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)

    configured = settings.replace(vapid_private_key=Secret(generate_vapid_keys()[0]))
    return Provider(configured, fake, lambda: len(fake.messages_to("alice")), subscribe)


async def _slack_provider(channel: Channel, settings, stack: AsyncExitStack, case: Case) -> Provider:
    fake = await stack.enter_async_context(FakeSlackAPI())
    fake.add_user("UALICE", "Alice", "alice@example.com")

    async def link(alice):
        await SlackConnection.acreate(user=alice, slack_user_id="UALICE", slack_team_id="T1")
        await SlackInstallation.acreate(
            client_id=CLIENT_ID, app_id="A1", team_id="T1", team_name="Acme", bot_token=fake.add_bot_token(),
            bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write,commands,im:write", user_id="UINSTALLER",
        )

    # Every attempt starts with conversations.open, where the faults land.
    return Provider(slack_settings(settings, fake), fake, lambda: len(fake.requests_to("/conversations.open")), link)


async def _teams_provider(channel: Channel, settings, stack: AsyncExitStack, case: Case) -> Provider:
    fake = await stack.enter_async_context(FakeBotConnector(TEAMS_APP_ID))
    configured = settings.replace(
        teams_app_id=TEAMS_APP_ID, teams_app_password=Secret("bot-password"),
        teams_openid_metadata_url=fake.metadata_url, teams_token_url=fake.token_url,
    )

    async def install(alice):
        reference = {
            "serviceUrl": fake.service_url, "channelId": "msteams", "conversation": {"id": "a:alice-chat"},
            "bot": {"id": f"28:{TEAMS_APP_ID}", "name": "Ackbot"}, "user": {"id": "29:alice", "name": "Alice"},
        }
        await TeamsConnection.acreate(
            user=alice, teams_user_id="29:alice", teams_tenant_id="tenant-1", conversation_reference=reference,
        )

    def requests() -> int:
        if case.via == "token":  # the connector is never reached; each attempt asks for a token
            return len(fake.requests_to("/botframework.com/oauth2/v2.0/token"))
        return sum(1 for request in fake.requests if request.method == "POST" and "/activities" in request.path)

    return Provider(configured, fake, requests, install)


async def _smtp_provider(channel: Channel, settings, stack: AsyncExitStack, case: Case) -> Provider:
    server = stack.enter_context(FaultySmtpServer())
    port = free_port() if case.via == "refused" else server.port  # nothing listens on a fresh free port
    configured = settings.replace(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
    return Provider(configured, server, lambda: server.handler.rcpt_count)


PROVIDERS = {
    Channel.SMS: _twilio_provider, Channel.VOICE: _twilio_provider, Channel.PUSH: _push_provider,
    Channel.SLACK: _slack_provider, Channel.TEAMS: _teams_provider, Channel.EMAIL: _smtp_provider,
}


async def _seed(channel: Channel, next_channel: Channel) -> User:
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", phone="+15550100001")
    await TeamMember.acreate(team=team, user=alice)
    await ChannelPreference.acreate(user=alice, channel=channel, tier=Tier.PRIMARY)
    await ChannelPreference.acreate(user=alice, channel=next_channel, tier=Tier.SECONDARY)
    return alice


@pytest.fixture
async def world_for(aiohttp_client, settings):
    """``await world_for(channel, case)``: the app paging Alice on ``channel`` first and on a
    scripted secondary channel next, with the incident triggered and nothing sent yet."""
    async with AsyncExitStack() as stack:

        async def build(channel: Channel, case: Case) -> SimpleNamespace:
            tuned = settings.replace(
                send_timeout=SEND_TIMEOUT if case.times_out else 5.0, max_attempts=MAX_ATTEMPTS,
                backoff_base=1.0, backoff_cap=1.0, tier_timeout_minutes=60.0,
            )
            provider = await PROVIDERS[channel](channel, tuned, stack, case)
            http = await stack.enter_async_context(aiohttp.ClientSession())
            next_channel = Channel.EMAIL if channel in (Channel.SMS, Channel.VOICE) else Channel.SMS
            channels = {
                channel: build_channels(channel_configs(provider.settings), http)[channel], next_channel: ScriptedChannel(next_channel),
            }
            clock = FixedClock()
            client = await aiohttp_client(create_app(provider.settings, channels=channels, clock=clock))
            alice = await _seed(channel, next_channel)
            if provider.link is not None:
                await provider.link(alice)
            await client.app[SERVICE_KEY].trigger(
                TriggerRequest(title="DB primary down", priority="CRITICAL", service="db", team="payments")
            )
            return SimpleNamespace(channel=channel, next_channel=next_channel, provider=provider, client=client,
                                   clock=clock, fake=provider.fake)

        yield build


# --- the test ----------------------------------------------------------------------------------


async def _attempt(world, case: Case) -> NotificationLog:
    """Inject this attempt's fault, let the dispatcher send once, return the page's row."""
    fault = case.fault()
    if case.via == "token":
        world.fake.fail_token_next(fault)
    elif case.via == "smtp":
        world.fake.handler.faults.append(fault)
    elif case.via == "api":
        world.fake.fail_next(fault)
    assert await world.client.app[DISPATCHER_KEY].run_once() == 1
    [row] = await database.list(NotificationLog.select().where(NotificationLog.channel == world.channel))
    return row


async def _until_final(world, case: Case) -> tuple[NotificationLog, int]:
    """Attempt until the page is final; checks each retry's wait. Returns (row, attempts)."""
    row, attempts = await _attempt(world, case), 1
    while case.outcome == TEMPORARY and attempts < MAX_ATTEMPTS:
        assert (row.status, case.error in (row.error or "")) == (DeliveryStatus.QUEUED, True), row.error
        wait = (row.next_attempt_at - world.clock.now).total_seconds()
        low, high = case.wait
        assert low <= wait <= high, f"attempt {attempts}: retry after {wait:g}s, expected {low:g}-{high:g}s"
        world.clock.now = row.next_attempt_at
        row, attempts = await _attempt(world, case), attempts + 1
    return row, attempts


@pytest.mark.parametrize("channel, case", list(_cases()))
async def test_fault(world_for, channel: Channel, case: Case):
    world = await world_for(channel, case)
    row, attempts = await _until_final(world, case)

    if case.outcome == SENT:
        assert row.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED) and row.error is None
    else:
        assert row.status == DeliveryStatus.FAILED and case.error in row.error, row.error
        capped = f"(after {MAX_ATTEMPTS} attempts)"
        assert row.error.endswith(capped) if case.outcome == TEMPORARY else capped not in row.error, row.error
    assert row.attempt_count == attempts
    if case.via != "refused":
        assert world.provider.requests() == attempts, "every attempt reached the provider once and was counted once"
    if case.check is not None:
        await case.check(world)

    while await world.client.app[DISPATCHER_KEY].run_once():
        pass
    later = await database.list(NotificationLog.select().where(NotificationLog.channel == world.next_channel))
    if case.outcome == SENT:
        assert later == [], "a page that went out does not escalate at once"
        return
    assert [(page.tier, page.status) for page in later] == [(Tier.SECONDARY, DeliveryStatus.SENT)], (
        "the failed page moved escalation on to Alice's next tier"
    )
    failures = await database.list(IncidentEvent.select().where(IncidentEvent.kind == EventKind.FAILED))
    assert [event.message for event in failures] == [f"{channel.lower()} page to Alice failed: {row.error}"]
