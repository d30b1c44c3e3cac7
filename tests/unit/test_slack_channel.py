"""The Slack channel against the fake Web API: DM cards, in-place edits, error classification,
token rotation and per-channel pacing (on an injected clock: nothing waits for real)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from channels.slack import ChannelPacer, SlackAppCredentials, SlackChannel
from channels.types import NotificationAction, NotificationKind, Recipient
from tests.fakes.service import Fault
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET, FakeSlackAPI
from tests.unit.test_channel_contract import make_payload

NOW = datetime(2026, 11, 28, 14, 2, tzinfo=UTC)
ACK = NotificationAction("acknowledge", "Acknowledge", "primary")
RESOLVE = NotificationAction("resolve", "Resolve", "danger")


@dataclass
class StoredToken:
    token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None


class MemoryTokens:
    def __init__(self, **teams: StoredToken):
        self.teams = teams

    async def for_team(self, team_id):
        return self.teams.get(team_id)

    async def rotated(self, old, token, refresh_token, expires_at):
        team = next(team for team, stored in self.teams.items() if stored is old)
        self.teams[team] = StoredToken(token, refresh_token, expires_at)


class ManualClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
async def slack():
    async with FakeSlackAPI() as fake:
        fake.add_user("UALICE", "Alice", "alice@example.com")
        yield fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


def alice_payload(**changes):
    recipient = Recipient(user_id=7, name="Alice", slack_user_id="UALICE", slack_team_id="T1", time_zone="Europe/Paris")
    defaults = dict(recipient=recipient, actions=(ACK, RESOLVE), dashboard_url="https://grafana.example/d/1")
    return make_payload(**(defaults | changes))


def make_channel(slack, session, tokens=None, clock=None):
    tokens = tokens or MemoryTokens(T1=StoredToken(slack.add_bot_token()))
    pacer = ChannelPacer(clock=clock, sleep=clock.sleep) if clock else None
    return SlackChannel(
        slack.url, session, tokens, SlackAppCredentials(CLIENT_ID, CLIENT_SECRET), pacer=pacer, now=lambda: NOW,
    )


def _buttons(blocks):
    return [element for block in blocks if block["type"] == "actions" for element in block["elements"]]


async def test_an_alert_is_a_dm_card_with_buttons_and_is_delivered_at_once(slack, session):
    result = await make_channel(slack, session).send(alice_payload())
    assert result.success and result.delivered_at is not None
    [post] = slack.calls("chat.postMessage")
    assert post["channel"] == "DUALICE" and "DB primary down" in post["text"]
    assert result.provider_id == f"DUALICE:{result.message_reference['ts']}"
    assert result.message_reference == {"channel": "DUALICE", "ts": result.message_reference["ts"]}
    blocks = slack.message("DUALICE", result.message_reference["ts"]).blocks
    assert [(button["action_id"], button.get("style"), button.get("value")) for button in _buttons(blocks)] == [
        ("acknowledge", "primary", "42"), ("resolve", "danger", "42"), ("dashboard", None, None),
    ]
    card = str(blocks)
    for shown in ("CRITICAL", "payments", "core", "replication lag 300s", "Sat 28 Nov 2026, 15:02 CET"):
        assert shown in card
    assert slack.requests_to("/chat.postMessage")[0].headers["Authorization"] == "Bearer xoxb-fake-bot-token"


async def test_a_status_notice_edits_the_card_in_place_with_only_the_buttons_left(slack, session):
    channel = make_channel(slack, session)
    first = await channel.send(alice_payload())
    notice = alice_payload(
        kind=NotificationKind.STATUS, actions=(RESOLVE,), incident_status="ACKNOWLEDGED",
        status_text="Acknowledged by Bob via email at Sat 28 Nov 2026, 15:05 CET",
        message_reference=first.message_reference,
    )
    result = await channel.send(notice)
    assert result.success and result.provider_id == first.provider_id
    assert len(slack.calls("chat.postMessage")) == 1
    message = slack.message("DUALICE", first.message_reference["ts"])
    assert message.updates == 1 and "Acknowledged by Bob via email" in message.text
    assert [button["action_id"] for button in _buttons(message.blocks)] == ["resolve", "dashboard"]


def team_channel_payload(**changes):
    recipient = Recipient(user_id=None, name="Payments", slack_channel_id="C0PAYMENTS1", slack_team_id="T1")
    return make_payload(**({"recipient": recipient, "user_id": None, "actions": (ACK, RESOLVE)} | changes))


async def test_a_team_post_goes_straight_to_the_channel_in_utc(slack, session):
    result = await make_channel(slack, session).send(team_channel_payload())
    assert result.success and result.message_reference["channel"] == "C0PAYMENTS1"
    assert slack.calls("conversations.open") == []
    message = slack.message("C0PAYMENTS1", result.message_reference["ts"])
    assert [button["action_id"] for button in _buttons(message.blocks)] == ["acknowledge", "resolve"]
    assert "Sat 28 Nov 2026, 14:02 UTC" in str(message.blocks)


async def test_a_team_post_without_a_workspace_says_how_to_choose_one(slack, session):
    result = await make_channel(slack, session).send(team_channel_payload(recipient=Recipient(
        user_id=None, name="Payments", slack_channel_id="C0PAYMENTS1",
    )))
    assert not result.success and not result.temporary
    assert "set the team's slack_workspace in the people file" in result.error
    assert slack.requests == []


async def test_a_test_page_is_a_short_dm_without_buttons(slack, session):
    result = await make_channel(slack, session).send(alice_payload(kind=NotificationKind.TEST, actions=()))
    assert result.success
    [post] = slack.calls("chat.postMessage")
    assert post["text"].startswith("Test page from Ackbot for Alice") and not _buttons(post["blocks"])


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "account_inactive", "invalid_auth", "token_revoked", "invalid_blocks"],
)
async def test_slack_errors_are_permanent(slack, session, error):
    slack.fail_next(Fault(status=200, body=f'{{"ok": false, "error": "{error}"}}'))
    result = await make_channel(slack, session).send(alice_payload())
    assert not result.success and not result.temporary
    assert result.error == f"Slack conversations.open: {error}"


async def test_rate_limits_and_server_errors_are_temporary_with_retry_after(slack, session):
    channel = make_channel(slack, session)
    slack.fail_next(Fault(status=429, body='{"ok": false, "error": "ratelimited"}', headers=(("Retry-After", "30"),)))
    limited = await channel.send(alice_payload())
    assert (limited.temporary, limited.retry_after, limited.error) == (True, 30.0, "Slack conversations.open: ratelimited")
    slack.fail_next(Fault(status=503))
    unavailable = await channel.send(alice_payload())
    assert unavailable.temporary and unavailable.error.startswith("Slack conversations.open:")


async def test_a_slow_slack_is_a_temporary_failure(slack, session):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as impatient:
        slack.fail_next(Fault(status=200, delay=1.0))
        result = await make_channel(slack, impatient).send(alice_payload())
    assert not result.success and result.temporary


async def test_missing_links_and_installations_fail_for_good_without_calling_slack(slack, session):
    unlinked = alice_payload(recipient=Recipient(user_id=7, name="Alice"))
    assert (await make_channel(slack, session).send(unlinked)).error == "the person has no linked Slack account"
    not_installed = await make_channel(slack, session, tokens=MemoryTokens()).send(alice_payload())
    assert not_installed.error == "Ackbot is not installed in Slack workspace T1" and not not_installed.temporary
    assert slack.requests == []


async def test_an_expiring_bot_token_is_refreshed_and_kept(slack, session):
    tokens = MemoryTokens(T1=StoredToken("xoxe.xoxb-old", "xoxe-1-refresh", NOW + timedelta(minutes=5)))
    result = await make_channel(slack, session, tokens=tokens).send(alice_payload())
    assert result.success
    [refresh] = slack.calls("oauth.v2.access")
    assert (refresh["grant_type"], refresh["refresh_token"]) == ("refresh_token", "xoxe-1-refresh")
    stored = tokens.teams["T1"]
    assert stored.token.startswith("xoxe.xoxb-rotated-") and stored.expires_at == NOW + timedelta(hours=12)
    assert slack.requests_to("/chat.postMessage")[0].headers["Authorization"] == f"Bearer {stored.token}"


async def test_errors_never_carry_tokens(slack, session):
    slack.fail_next(Fault(status=200, body='{"ok": false, "error": "invalid_auth xoxb-secret-value"}'))
    result = await make_channel(slack, session).send(alice_payload())
    assert "xoxb-secret-value" not in result.error


async def test_posts_to_one_channel_are_paced_to_one_a_second(slack, session):
    clock = ManualClock()
    channel = make_channel(slack, session, clock=clock)
    for _ in range(3):
        await channel.send(alice_payload())
    assert clock.slept == [1.0, 1.0]
    slack.add_user("UBOB", "Bob")
    bob = replace(alice_payload().recipient, user_id=8, name="Bob", slack_user_id="UBOB")
    await channel.send(alice_payload(user_id=8, recipient=bob))
    assert clock.slept == [1.0, 1.0], "another channel does not wait"


async def test_the_pacer_lets_a_channel_post_again_after_a_second():
    clock = ManualClock()
    pacer = ChannelPacer(clock=clock, sleep=clock.sleep)
    await pacer.wait("C1")
    clock.now += 1.5
    await pacer.wait("C1")
    await pacer.wait("C1")
    assert clock.slept == [1.0]


async def test_the_pacer_keeps_pacing_past_thousands_of_channels_and_forgets_them_later():
    clock = ManualClock()
    pacer = ChannelPacer(clock=clock, sleep=clock.sleep)
    for index in range(3000):
        await pacer.wait(f"C{index}")
    await pacer.wait("C0")
    assert clock.slept == [1.0], "a channel among thousands still waits its turn"
    clock.now += 5
    for index in range(2 * 3000 + 1):
        await pacer.wait(f"D{index}")
    assert len(pacer._next_slot) <= 2 * 3000 + 1, "the channels of the first storm are forgotten"
