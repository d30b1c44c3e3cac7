"""SMS and voice in the escalation, end to end: the real SMS and voice channels against a fake
Twilio REST API, a scripted email channel for the primary tier, the real application and its
dispatcher on a fixed clock, and Twilio's webhooks signed as Twilio signs them. Runs on SQLite and
PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from app import Secret, channel_configs, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from channels.registry import build_channels
from incidents.intake import TriggerRequest
from incidents.service import Actor
from storage.database import database
from storage.enums import Channel, EventKind
from storage.models import EscalationLevel, EscalationTarget, Incident, IncidentEvent, NotificationLog, Team, User
from tests.fakes.channel import PERMANENT, FixedClock, ScriptedChannel
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, signed, twilio_error

PUBLIC_URL = "http://ackbot.test"
ALICE, BOB = "+15550100001", "+15550100002"


@pytest.fixture
async def twilio():
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def ackbot(aiohttp_client, settings, twilio):
    """Payments pages Alice at level 1 and, 10 minutes later, Bob at level 2; email always fails."""
    settings = settings.replace(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN), twilio_from_number=FROM_NUMBER,
        twilio_api_url=twilio.url, tier_timeout_minutes=5.0,
    )
    async with aiohttp.ClientSession() as session:
        channels = build_channels(channel_configs(settings), session)
        channels[Channel.EMAIL] = ScriptedChannel(Channel.EMAIL, default=PERMANENT)
        client = await aiohttp_client(create_app(settings, channels=channels, clock=FixedClock()))
        client.clock = client.app[SERVICE_KEY].clock
        team = await Team.acreate(name="payments", display_name="Payments")
        client.alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", phone=ALICE)
        client.bob = await User.acreate(handle="bob", name="Bob", email="bob@example.com", phone=BOB)
        for level, user in ((1, client.alice), (2, client.bob)):
            row = await EscalationLevel.acreate(team=team, level=level, delay_minutes=10)
            await EscalationTarget.acreate(escalation_level=row, user=user)
        client.incident = (await client.app[SERVICE_KEY].trigger(TriggerRequest(
            title="DB primary down", priority="CRITICAL", service="payments", team="payments",
        ))).incident
        yield client


async def tick(client, **delta) -> None:
    """Move the clock, then let the dispatcher do everything that is due."""
    if delta:
        client.clock.advance(**delta)
    while await client.app[DISPATCHER_KEY].run_once():
        pass


async def webhook(client, path: str, params: dict):
    return await client.post(path, data=params, headers=signed(PUBLIC_URL + path, params))


async def pages(client) -> list[tuple[str, str, str, int]]:
    query = NotificationLog.select(NotificationLog, User).join(User).where(
        (NotificationLog.incident == client.incident.id) & (NotificationLog.kind == "ALERT")
    ).order_by(NotificationLog.id)
    return [(row.user.name, row.channel, row.status, row.escalation_level) for row in await database.list(query)]


async def row(client, channel: str) -> NotificationLog:
    query = NotificationLog.select().where((NotificationLog.incident == client.incident.id) & (NotificationLog.channel == channel))
    return (await database.list(query))[0]


async def test_sms_after_email_fails_is_delivered_and_a_reply_acknowledges_and_cancels_the_call(ackbot, twilio):
    await tick(ackbot)
    assert await pages(ackbot) == [("Alice", "EMAIL", "FAILED", 1), ("Alice", "SMS", "SENT", 1)]
    [message] = twilio.messages
    assert (message["To"], message["Body"], message["StatusCallback"]) == (
        ALICE, "CRITICAL #1 payments: DB primary down. Reply ACK 1 or RES 1", f"{PUBLIC_URL}/twilio/sms/status",
    )
    response = await webhook(ackbot, "/twilio/sms/status", {"MessageSid": message["sid"], "MessageStatus": "delivered"})
    assert response.status == 204
    assert (await row(ackbot, "SMS")).status == "DELIVERED"

    twilio.fail_next(twilio_error(503, 20500, "Service unavailable", retry_after="120"))
    await tick(ackbot, minutes=5)
    voice = await row(ackbot, "VOICE")
    assert (voice.status, voice.error) == ("QUEUED", "HTTP 503: Twilio error 20500: Service unavailable")
    assert voice.next_attempt_at == ackbot.clock.now + timedelta(seconds=120)

    reply = {"From": ALICE, "To": FROM_NUMBER, "Body": "ACK 1", "MessageSid": "SMreply"}
    response = await webhook(ackbot, "/twilio/sms", reply)
    assert "<Message>#1 acknowledged by Alice via SMS.</Message>" in await response.text()
    incident = await Incident.aget_by_id(ackbot.incident.id)
    assert (incident.status, incident.acknowledged_by_name, incident.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "SMS")
    assert (await row(ackbot, "VOICE")).status == "CANCELLED"

    await tick(ackbot, minutes=15)
    assert twilio.calls == [] and len(twilio.messages) == 1
    assert await pages(ackbot) == [
        ("Alice", "EMAIL", "FAILED", 1), ("Alice", "SMS", "DELIVERED", 1), ("Alice", "VOICE", "CANCELLED", 1),
    ]


async def test_an_unanswered_call_is_failed_and_the_next_level_is_paged(ackbot, twilio):
    await tick(ackbot)
    await tick(ackbot, minutes=5)
    [call] = twilio.calls
    voice = await row(ackbot, "VOICE")
    assert (call["To"], call["Url"], voice.provider_id) == (ALICE, f"{PUBLIC_URL}/twilio/voice/{voice.id}", call["sid"])

    response = await webhook(ackbot, "/twilio/voice/status", {"CallSid": call["sid"], "CallStatus": "no-answer"})
    assert response.status == 204
    voice = await row(ackbot, "VOICE")
    assert (voice.status, voice.error) == ("FAILED", "nobody answered")
    events = await database.list(IncidentEvent.select().where(IncidentEvent.kind == EventKind.FAILED))
    assert events[-1].message == "voice page to Alice failed: nobody answered"

    await tick(ackbot)
    assert ("Bob", "EMAIL", "FAILED", 2) in await pages(ackbot)
    assert (await Incident.aget_by_id(ackbot.incident.id)).escalation_level == 2
    await tick(ackbot)
    assert [message["To"] for message in twilio.messages] == [ALICE, BOB]


async def test_someone_paged_by_sms_gets_a_status_notice_by_sms_but_no_call(ackbot, twilio):
    await tick(ackbot)
    await ackbot.app[SERVICE_KEY].acknowledge(ackbot.incident.id, Actor("Bob", "SLACK"))
    await tick(ackbot, minutes=30)
    assert [message["Body"] for message in twilio.messages] == [
        "CRITICAL #1 payments: DB primary down. Reply ACK 1 or RES 1",
        "#1 Acknowledged by Bob via Slack at Sat 28 Nov 2026, 14:00 UTC. Reply RES 1",
    ]
    assert twilio.calls == []
