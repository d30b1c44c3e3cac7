"""The Teams channel adapter against the fake Bot Connector: what it posts and replaces, the
bot token it uses, and how each failure is classified. No database."""
from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from channels.teams import (
    DEFAULT_TOKEN_URL,
    MANAGED_IDENTITY_TOKEN_URL,
    BotCredentials,
    BotFrameworkToken,
    TeamsChannel,
)
from channels.types import NotificationAction, NotificationKind, NotificationPayload, Priority, Recipient
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.service import Fault

APP_ID = "app-123"
ACKNOWLEDGE = NotificationAction("acknowledge", "Acknowledge", "primary")
RESOLVE = NotificationAction("resolve", "Resolve", "danger")


@pytest.fixture
async def connector():
    async with FakeBotConnector(APP_ID) as fake:
        yield fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
        yield session


@pytest.fixture
def channel(connector, session):
    credentials = BotCredentials.create(APP_ID, "bot-password", "MultiTenant", "", connector.token_url)
    return TeamsChannel(BotFrameworkToken(credentials, session), session)


def reference(connector) -> dict:
    return {
        "activityId": "f:1", "channelId": "msteams", "serviceUrl": connector.service_url,
        "bot": {"id": f"28:{APP_ID}", "name": "Ackbot"}, "user": {"id": "29:alice", "aadObjectId": "aad-alice"},
        "conversation": {"id": "a:alice-chat", "conversationType": "personal", "tenantId": "t1"},
    }


def payload(connector, **changes) -> NotificationPayload:
    values = dict(
        incident_id=42, user_id=1, title="DB primary down", body="Replication lag 300s", priority=Priority.CRITICAL,
        service="db", team_name="Payments", alert_count=3, escalation_level=2, dashboard_url="https://grafana.example/d/1",
        triggered_at=datetime(2026, 11, 28, 14, 2, tzinfo=UTC),
        recipient=Recipient(user_id=1, name="Alice", time_zone="Europe/Berlin", teams_reference=reference(connector)),
        notification_id=7, actions=(ACKNOWLEDGE, RESOLVE),
    )
    values.update(changes)
    return NotificationPayload(**values)


def card_of(body: dict) -> dict:
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


async def test_a_page_is_posted_to_the_conversation_as_a_card(channel, connector):
    result = await channel.send(payload(connector))
    assert result.success and not result.temporary and result.delivered_at is None
    (post,) = [request for request in connector.requests if request.method == "POST" and "/v3/" in request.path]
    assert post.path == "/amer/v3/conversations/a:alice-chat/activities"
    assert post.headers["Authorization"] == f"Bearer {connector.issued_tokens[0]}"
    body = post.json()
    assert body["type"] == "message" and body["from"] == {"id": f"28:{APP_ID}", "name": "Ackbot"}
    assert body["summary"] == "CRITICAL · #42 · DB primary down"
    card = card_of(body)
    assert card["version"] == "1.5"
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts["Triggered"] == "Sat 28 Nov 2026, 15:02 CET" and facts["Alerts"] == "3" and facts["Escalation level"] == "2"
    assert [(action["type"], action.get("verb"), action.get("style")) for action in card["actions"]] == [
        ("Action.Execute", "acknowledge", "positive"), ("Action.Execute", "resolve", "destructive"),
        ("Action.OpenUrl", None, None),
    ]
    activity_id = "1:1"
    assert result.provider_id == f"a:alice-chat:{activity_id}"
    assert result.message_reference == {
        "service_url": connector.service_url, "conversation_id": "a:alice-chat", "activity_id": activity_id,
    }


async def test_the_bot_token_is_fetched_once_and_reused(channel, connector):
    await channel.send(payload(connector))
    await channel.send(payload(connector))
    (token_request,) = connector.requests_to("/botframework.com/oauth2/v2.0/token")
    assert token_request.form == {
        "grant_type": "client_credentials", "client_id": APP_ID, "client_secret": "bot-password",
        "scope": "https://api.botframework.com/.default",
    }


async def test_a_status_notice_replaces_the_posted_card(channel, connector):
    sent = await channel.send(payload(connector))
    notice = payload(
        connector, kind=NotificationKind.STATUS, actions=(RESOLVE,), incident_status="ACKNOWLEDGED",
        status_text="Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:05 CET", message_reference=sent.message_reference,
    )
    result = await channel.send(notice)
    assert result.success and result.provider_id == sent.provider_id
    ((path, body),) = connector.updated()
    assert path == "/amer/v3/conversations/a:alice-chat/activities/1:1" and body["id"] == "1:1"
    card = card_of(body)
    assert card["body"][-1]["text"] == "Acknowledged by Bob via Slack at Sat 28 Nov 2026, 15:05 CET"
    assert [action.get("verb") for action in card["actions"]] == ["resolve", None]


async def test_a_status_notice_without_an_earlier_card_is_posted(channel, connector):
    notice = payload(connector, kind=NotificationKind.STATUS, actions=(), incident_status="RESOLVED",
                     status_text="Resolved by Bob via the API at Sat 28 Nov 2026, 15:05 CET")
    assert (await channel.send(notice)).success
    assert connector.updated() == [] and len(connector.posted()) == 1
    assert [action["type"] for action in card_of(connector.posted()[0])["actions"]] == ["Action.OpenUrl"]


async def test_a_test_page_is_a_short_card_without_buttons(channel, connector):
    result = await channel.send(payload(connector, kind=NotificationKind.TEST, actions=(), body="This is a test."))
    assert result.success
    card = card_of(connector.posted()[0])
    assert [block["text"] for block in card["body"]][:2] == ["Ackbot test page", "Hello Alice: This is a test."]
    assert "actions" not in card


@pytest.mark.parametrize(
    "fault, temporary, retry_after, error",
    [
        (Fault(status=429, headers=(("Retry-After", "30"),)), True, 30.0, "HTTP 429: injected"),
        (Fault(status=502, body="bad gateway", content_type="text/plain"), True, None, "HTTP 502: bad gateway"),
        (Fault(status=403, body=(
            '{"error": {"code": "BotNotInConversationRoster", "message": "The bot is not part of the conversation roster."}}'
        )),
         False, None, "HTTP 403: BotNotInConversationRoster: The bot is not part of the conversation roster."),
        (Fault(status=404, body='{"error": {"code": "ConversationNotFound", "message": "Conversation not found."}}'),
         False, None, "HTTP 404: ConversationNotFound: Conversation not found."),
        (Fault(status=200, delay=2.0), True, None, "TimeoutError"),
    ],
)
async def test_failures_are_classified(channel, connector, fault, temporary, retry_after, error):
    await channel.send(payload(connector))  # the token is fetched before the fault applies
    connector.fail_next(fault)
    result = await channel.send(payload(connector))
    assert not result.success
    assert (result.temporary, result.retry_after, result.error) == (temporary, retry_after, error)


async def test_a_rejected_bot_token_is_renewed(channel, connector):
    await channel.send(payload(connector))
    connector.issued_tokens.clear()  # the connector no longer accepts the cached token
    result = await channel.send(payload(connector))
    assert result.temporary and "HTTP 401" in result.error
    assert (await channel.send(payload(connector))).success
    assert len(connector.requests_to("/botframework.com/oauth2/v2.0/token")) == 2


@pytest.mark.parametrize(
    "fault, temporary",
    [(Fault(status=401, body='{"error": "invalid_client", "error_description": "AADSTS7000215 secret=bad"}'), False),
     (Fault(status=503), True)],
)
async def test_token_endpoint_failures(channel, connector, fault, temporary):
    connector.fail_token_next(fault)
    result = await channel.send(payload(connector))
    assert not result.success and result.temporary is temporary
    assert result.error.startswith("token endpoint refused the bot's credentials (HTTP ")
    assert "bot-password" not in result.error and "secret=bad" not in result.error


async def test_no_conversation_reference_is_a_permanent_failure(channel, connector):
    recipient = Recipient(user_id=1, name="Alice")
    result = await channel.send(payload(connector, recipient=recipient))
    assert not result.success and not result.temporary
    assert "not installed the Ackbot app" in result.error


async def test_a_managed_identity_gets_its_token_from_the_metadata_service(connector, session):
    credentials = BotCredentials.create(APP_ID, None, "userassignedmsi", "t1", f"{connector.url}/metadata/identity/oauth2/token")
    assert credentials.problem() is None
    channel = TeamsChannel(BotFrameworkToken(credentials, session), session)
    assert (await channel.send(payload(connector))).success
    (token_request,) = connector.requests_to("/metadata/identity/oauth2/token")
    assert token_request.headers["Metadata"] == "true"
    assert token_request.query["resource"] == "https://api.botframework.com"


def test_credentials_say_what_is_missing_and_pick_the_token_url():
    single = BotCredentials.create("app", "pw", "singletenant", "contoso.onmicrosoft.com", DEFAULT_TOKEN_URL)
    assert single.app_type == "SingleTenant"
    assert single.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert single.problem() is None
    assert BotCredentials.create("app", None, "UserAssignedMSI", "t", DEFAULT_TOKEN_URL).token_url == MANAGED_IDENTITY_TOKEN_URL
    assert BotCredentials.create("", "pw", "MultiTenant", "", DEFAULT_TOKEN_URL).problem() == "set ACKBOT_TEAMS_APP_ID"
    assert BotCredentials.create("app", None, "MultiTenant", "", DEFAULT_TOKEN_URL).problem() == "set ACKBOT_TEAMS_APP_PASSWORD"
    assert "ACKBOT_TEAMS_TENANT_ID" in BotCredentials.create("app", "pw", "SingleTenant", "", DEFAULT_TOKEN_URL).problem()
    assert "must be one of" in BotCredentials.create("app", "pw", "Cloud", "", DEFAULT_TOKEN_URL).problem()
    assert "pw" not in repr(single)
