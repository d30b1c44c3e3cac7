"""Incident cards in a team's Slack channel, through the real application and the fake Slack
Web API, on SQLite and PostgreSQL: posted with the incident, clickable by the team, edited in
place whichever surface acts, retried when Slack asks, and failures shown where operators look."""
from __future__ import annotations

import aiohttp
import pytest

from app import create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY, SLACK_APP_KEY
from incidents import api_keys
from incidents.intake import TriggerRequest
from storage.enums import Channel, EventKind
from storage.models import Incident, IncidentEvent, SlackConnection, SlackInstallation, Team, TeamMember, TeamPost, User
from tests.fakes.channel import ScriptedChannel
from tests.fakes.service import Fault
from tests.fakes.slack_api import CLIENT_ID, FakeSlackAPI
from tests.integration.slack_support import click, post_signed, slack_channel, slack_settings, slash_command

TEAM_CHANNEL = "C0PAYMENTS1"


@pytest.fixture
async def fake():
    async with FakeSlackAPI() as api:
        api.add_user("UALICE", "Alice", "alice@example.com")
        api.add_user("UBOB", "Bob", "bob@example.com")
        yield api


@pytest.fixture
async def client(aiohttp_client, settings, fake):
    configured = slack_settings(settings, fake)
    async with aiohttp.ClientSession() as http:
        channels = {Channel.SLACK: slack_channel(configured, http), Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}
        client = await aiohttp_client(create_app(configured, channels=channels))
        payments = await Team.acreate(name="payments", display_name="Payments", slack_channel=TEAM_CHANNEL)
        for handle, name in (("alice", "Alice"), ("bob", "Bob")):
            user = await User.acreate(handle=handle, name=name, email=f"{handle}@example.com")
            await TeamMember.acreate(team=payments, user=user)
        await _install(fake, "T1")
        yield client


async def _install(fake, team_id: str) -> None:
    await SlackInstallation.acreate(
        client_id=CLIENT_ID, app_id="A1", team_id=team_id, team_name=team_id, bot_id="B1", bot_user_id="UBOT",
        bot_token=fake.add_bot_token(f"xoxb-bot-{team_id.lower()}", team_id=team_id), user_id="UINSTALLER",
    )


async def _trigger(client, title: str = "DB primary down") -> int:
    request = TriggerRequest(title=title, service="db", team="payments", priority="CRITICAL")
    return (await client.app[SERVICE_KEY].trigger(request)).incident.id


async def _dispatch(client) -> None:
    await client.app[DISPATCHER_KEY].run_once()


def _team_card(fake):
    [card] = [message for (channel, _), message in fake.messages.items() if channel == TEAM_CHANNEL]
    return card


def _buttons(message) -> list[str]:
    return [element["action_id"] for block in message.blocks if block["type"] == "actions" for element in block["elements"]]


async def _post_rows(number: int) -> list[TeamPost]:
    return await TeamPost._meta.database.list(TeamPost.select().where(TeamPost.incident == number).order_by(TeamPost.id))


async def test_a_new_incident_is_posted_to_the_team_channel(client, fake):
    number = await _trigger(client)
    await _dispatch(client)
    card = _team_card(fake)
    assert card.team_id == "T1" and f"DB primary down (#{number})" in card.text
    assert _buttons(card) == ["acknowledge", "resolve", "open_in_ackbot"]
    assert "Payments" in str(card.blocks)
    assert [call["channel"] for call in fake.calls("conversations.open")] == [], "nobody here is linked to Slack"
    [post] = await _post_rows(number)
    assert (post.status, post.provider_id) == ("DELIVERED", f"{TEAM_CHANNEL}:{card.ts}")


async def test_acting_anywhere_edits_the_team_card_in_place(client, fake):
    number = await _trigger(client)
    await _dispatch(client)
    key = await api_keys.ApiKeys().create("monitoring")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.post(f"/api/v1/incidents/{number}/acknowledge", headers=headers)).status == 200
    await _dispatch(client)
    card = _team_card(fake)
    assert card.updates == 1 and "Acknowledged by API key monitoring via the API" in card.text
    assert _buttons(card) == ["resolve", "open_in_ackbot"]
    await client.post(f"/api/v1/incidents/{number}/resolve", headers=headers)
    await _dispatch(client)
    assert card.updates == 2 and "Resolved by API key monitoring via the API" in card.text and _buttons(card) == ["open_in_ackbot"]
    assert len(fake.calls("chat.postMessage")) == 1


async def test_a_team_member_clicks_the_team_card(client, fake):
    number = await _trigger(client)
    await _dispatch(client)
    alice = await User.aget(User.handle == "alice")
    await SlackConnection.acreate(user=alice, slack_user_id="UALICE", slack_team_id="T1")
    response = await post_signed(client, click("acknowledge", number, fake.response_url()))
    assert response.status == 200
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    await _dispatch(client)
    incident = await Incident.aget_by_id(number)
    assert (incident.status, incident.acknowledged_by_name, incident.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "SLACK")
    card = _team_card(fake)
    assert card.updates == 1 and "Acknowledged by Alice via Slack" in card.text


async def test_slack_rate_limiting_is_waited_out_and_the_card_is_posted_once(client, fake):
    fake.fail_next(Fault(429, '{"ok": false, "error": "ratelimited"}', headers=(("Retry-After", "0"),)))
    number = await _trigger(client)
    await _dispatch(client)
    [post] = await _post_rows(number)
    assert (post.status, post.attempt_count) == ("QUEUED", 1) and "ratelimited" in post.error
    await TeamPost.update(next_attempt_at=post.queued_at).where(TeamPost.id == post.id).aexecute()
    await _dispatch(client)
    [post] = await _post_rows(number)
    assert (post.status, post.attempt_count, post.error) == ("DELIVERED", 2, None)
    assert _team_card(fake).ts in post.provider_id


async def test_a_channel_the_bot_is_not_in_fails_visibly_and_people_are_still_paged(client, fake):
    fake.close_channel(TEAM_CHANNEL)
    number = await _trigger(client)
    await _dispatch(client)
    [post] = await _post_rows(number)
    assert (post.status, post.error) == ("FAILED", "Slack chat.postMessage: not_in_channel")
    failed = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where((IncidentEvent.incident == number) & (IncidentEvent.kind == EventKind.FAILED))
    )
    assert [event.message for event in failed] == [
        f"Post to the team's Slack channel {TEAM_CHANNEL} failed: Slack chat.postMessage: not_in_channel"
    ]
    key = await api_keys.ApiKeys().create("monitoring")
    body = await (await client.get(f"/api/v1/incidents/{number}", headers={"Authorization": f"Bearer {key}"})).json()
    assert [(post["destination"], post["status"]) for post in body["team_posts"]] == [(TEAM_CHANNEL, "FAILED")]
    assert {line["channel"] for line in body["notifications"]} == {"EMAIL"}


async def test_the_status_answer_shows_the_team_channel(client, fake):
    number = await _trigger(client)
    await _dispatch(client)
    alice = await User.aget(User.handle == "alice")
    await SlackConnection.acreate(user=alice, slack_user_id="UALICE", slack_team_id="T1")
    await post_signed(client, slash_command(f"status {number}", fake.response_url()))
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    [answer] = fake.responses
    sections = [block["text"]["text"] for block in answer["blocks"] if block["type"] == "section"]
    assert any(text.startswith(f"*Team channel*\n✅ <#{TEAM_CHANNEL}>: delivered ") for text in sections)


async def test_with_several_workspaces_the_team_names_its_own(client, fake):
    await _install(fake, "T2")
    ambiguous = await _trigger(client, "which workspace?")
    await _dispatch(client)
    [post] = await _post_rows(ambiguous)
    assert post.status == "FAILED" and "set the team's slack_workspace in the people file" in post.error
    await Team.update(slack_workspace="T2").where(Team.name == "payments").aexecute()
    chosen = await _trigger(client, "workspace two")
    await _dispatch(client)
    assert _team_card(fake).team_id == "T2"
    [post] = await _post_rows(chosen)
    assert post.status == "DELIVERED"
