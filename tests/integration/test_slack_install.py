"""Installing the Slack app, linking people and losing access, through the real application and
the fake Slack Web API (``oauth.v2.access``), on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY, SLACK_APP_KEY
from incidents.intake import TriggerRequest
from storage.database import database
from storage.models import Incident, SlackConnection, SlackInstallation, SlackOAuthState, Team, TeamMember, User
from tests.fakes.slack_api import CLIENT_ID, FakeSlackAPI
from tests.integration.slack_support import click, event, post_signed, slack_settings


@pytest.fixture
async def fake():
    async with FakeSlackAPI() as api:
        api.add_user("UCAROL", "Carol", "carol@example.com", email_shared=False)
        yield api


@pytest.fixture
async def client(aiohttp_client, settings, fake):
    client = await aiohttp_client(create_app(slack_settings(settings, fake)))
    payments = await Team.acreate(name="payments", display_name="Payments")
    carol = await User.acreate(handle="carol", name="Carol", email="carol@example.com")
    await TeamMember.acreate(team=payments, user=carol)
    return client


async def _start(client, path: str) -> tuple[str, dict, str]:
    """Start an OAuth flow: (the Slack authorize URL's state, its query, the state cookie)."""
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    cookie = response.headers["Set-Cookie"].split(";")[0]
    return query["state"][0], query, cookie


async def _finish(client, code: str, state: str, cookie: str):
    return await client.get(f"/slack/oauth_redirect?code={code}&state={state}", headers={"Cookie": cookie})


async def _raw(sql: str, *params):
    cursor = await database.run(database.execute_sql, sql, params)
    return cursor.fetchall()


async def test_the_install_flow_stores_the_workspace_with_its_token_encrypted(client, fake):
    state, query, cookie = await _start(client, "/slack/install")
    assert state.startswith("install.") and query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0] and query["redirect_uri"] == ["http://ackbot.test/slack/oauth_redirect"]
    response = await _finish(client, fake.install_code(), state, cookie)
    assert response.status == 200
    [exchange] = fake.calls("oauth.v2.access")
    assert exchange["code"] == "install-code" and exchange["redirect_uri"] == "http://ackbot.test/slack/oauth_redirect"
    installation = await SlackInstallation.aget(SlackInstallation.team_id == "T1")
    assert (installation.bot_token, installation.bot_id, installation.is_active) == ("xoxb-installed-bot", "B1", True)
    [(raw_token,)] = await _raw("SELECT bot_token FROM slack_installation")
    assert "xoxb" not in raw_token and raw_token != installation.bot_token
    assert await database.count(SlackOAuthState.select()) == 0, "the state is used up"
    again = await _finish(client, fake.install_code(), state, cookie)
    assert again.status == 401
    assert await database.count(SlackInstallation.select()) == 1


async def test_a_forged_state_or_a_refused_install_stores_nothing(client, fake):
    _, _, cookie = await _start(client, "/slack/install")
    forged = await _finish(client, fake.install_code(), "install.forged", "slack-app-oauth-state=install.forged")
    denied = await client.get("/slack/oauth_redirect?error=access_denied&state=install.x")
    assert forged.status == 401 and denied.status == 200
    assert "access_denied" in await denied.text()
    assert await database.count(SlackInstallation.select()) == 0 and fake.calls("oauth.v2.access") == []


async def test_the_newest_installation_wins_and_uninstalling_deactivates_it(client, fake):
    for code, token, installer in (("c1", "xoxb-first", "UADMIN1"), ("c2", "xoxb-second", "UADMIN2")):
        state, _, cookie = await _start(client, "/slack/install")
        fake.install_code(code, bot_token=token, authed_user={"id": installer})
        assert (await _finish(client, code, state, cookie)).status == 200
    store = client.app[SLACK_APP_KEY].bolt.installation_store
    newest = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert (newest.bot_token, newest.user_id) == ("xoxb-second", "UADMIN2")

    await SlackConnection.acreate(user=await User.aget(User.handle == "carol"), slack_user_id="UCAROL", slack_team_id="T1")
    response = await post_signed(client, event({"type": "app_uninstalled"}))
    assert response.status == 200
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    rows = await database.list(SlackInstallation.select())
    assert [(row.is_active, row.bot_token) for row in rows] == [(False, None), (False, None)]
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    carol = await SlackConnection.aget(SlackConnection.slack_user_id == "UCAROL")
    assert carol.is_active is False, "nobody is paged on Slack in a workspace without Ackbot"

    state, _, cookie = await _start(client, "/slack/install")
    await _finish(client, fake.install_code("c3", bot_token="xoxb-third"), state, cookie)
    assert (await SlackConnection.aget(SlackConnection.slack_user_id == "UCAROL")).is_active is True


async def test_linking_by_sign_in_when_slack_hides_the_email_from_the_bot(client, fake):
    state, _, cookie = await _start(client, "/slack/install")
    await _finish(client, fake.install_code(), state, cookie)
    service = client.app[SERVICE_KEY]
    number = (await service.trigger(TriggerRequest(title="disk full", team="payments"))).incident.id

    await post_signed(client, click("acknowledge", number, fake.response_url("before"), user="UCAROL"))
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    assert "Link your account" in fake.responses[-1]["text"]

    state, query, cookie = await _start(client, "/slack/link")
    assert state.startswith("link.") and query["user_scope"] == ["users:read,users:read.email"]
    linked = await _finish(client, fake.link_code("UCAROL", "xoxp-carol-user-token"), state, cookie)
    assert linked.status == 200 and "Carol" in await linked.text()
    connection = await SlackConnection.aget(SlackConnection.slack_user_id == "UCAROL")
    assert (connection.access_token, connection.slack_email, connection.slack_team_id) == (
        "xoxp-carol-user-token", "carol@example.com", "T1")
    [(raw_token,)] = await _raw("SELECT access_token FROM slack_connection")
    assert "xoxp" not in raw_token
    assert await database.count(SlackInstallation.select()) == 1, "a personal link is not a workspace installation"

    await post_signed(client, click("acknowledge", number, fake.response_url("after"), user="UCAROL", action_ts="2.0"))
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    assert (await Incident.aget_by_id(number)).acknowledged_by_name == "Carol"

    revoked = await post_signed(client, event({"type": "tokens_revoked", "tokens": {"oauth": ["UCAROL"]}}, "Ev2"))
    assert revoked.status == 200
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    connection = await SlackConnection.aget(SlackConnection.slack_user_id == "UCAROL")
    assert (connection.access_token, connection.is_active) == (None, True)


async def test_a_sign_in_whose_email_matches_nobody_links_nobody(client, fake):
    fake.add_user("UDAVE", "Dave", "dave@elsewhere.example", email_shared=False)
    state, _, cookie = await _start(client, "/slack/link")
    response = await _finish(client, fake.link_code("UDAVE", "xoxp-dave"), state, cookie)
    assert response.status == 403 and "dave@elsewhere.example" in await response.text()
    assert await database.count(SlackConnection.select()) == 0


async def test_slack_routes_say_slack_is_off_without_settings(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    for method, path in (("POST", "/slack/events"), ("GET", "/slack/install"), ("GET", "/slack/oauth_redirect")):
        response = await client.request(method, path)
        assert response.status == 404 and "ACKBOT_SLACK_CLIENT_ID" in (await response.json())["error"]
    assert (await (await client.get("/healthz")).json())["channels"]["slack"].startswith("off: set ACKBOT_SLACK_CLIENT_ID")


async def test_expiring_bot_tokens_are_rotated_for_pages_and_for_clicks(client, fake):
    carol = await User.aget(User.handle == "carol")
    await SlackConnection.acreate(user=carol, slack_user_id="UCAROL", slack_team_id="T1")
    soon = datetime.now(UTC) + timedelta(minutes=5)
    await SlackInstallation.acreate(
        client_id=CLIENT_ID, team_id="T1", bot_token=fake.add_bot_token("xoxe.xoxb-old"), bot_refresh_token="xoxe-1-r",
        bot_token_expires_at=soon, bot_id="B1", bot_user_id="UBOT", user_id="UADMIN",
    )
    number = (await client.app[SERVICE_KEY].trigger(TriggerRequest(title="disk full", team="payments"))).incident.id
    await client.app[DISPATCHER_KEY].run_once()
    [row] = await database.list(SlackInstallation.select())
    assert row.bot_token.startswith("xoxe.xoxb-rotated-") and row.bot_token_expires_at > soon
    assert fake.requests_to("/chat.postMessage")[0].headers["Authorization"] == f"Bearer {row.bot_token}"

    await SlackInstallation.update(bot_token_expires_at=soon).aexecute()
    await post_signed(client, click("acknowledge", number, fake.response_url(), user="UCAROL"))
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    [rotated] = await database.list(SlackInstallation.select())
    assert rotated.bot_token not in (row.bot_token, "xoxe.xoxb-old") and rotated.bot_token_expires_at > soon
    assert len(fake.calls("oauth.v2.access")) == 2
    assert (await Incident.aget_by_id(number)).acknowledged_by_name == "Carol"


async def test_a_refused_code_exchange_keeps_the_code_out_of_the_log(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    state, _, cookie = await _start(client, "/slack/install")
    response = await _finish(client, "unknown-oauth-code-4711", state, cookie)
    assert response.status < 500 and fake.calls("oauth.v2.access")
    # aiohttp.access is the test server's own access log; `ackbot serve` logs no query strings.
    assert not [record for record in caplog.records
                if record.name != "aiohttp.access" and "unknown-oauth-code-4711" in record.getMessage()]
    assert await database.count(SlackInstallation.select()) == 0


async def test_tokens_stay_out_of_the_logs_even_at_debug_level(aiohttp_client, settings, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = await aiohttp_client(create_app(slack_settings(settings, fake)))
    state, _, cookie = await _start(client, "/slack/install")
    await _finish(client, fake.install_code(bot_token="xoxb-installed-secret"), state, cookie)
    await post_signed(client, click("acknowledge", 99, fake.response_url(), user="UCAROL"))
    await client.app[SLACK_APP_KEY].surface.in_flight.settle(5)
    assert await database.count(SlackInstallation.select()) == 1
    assert "xoxb-installed-secret" not in caplog.text and "client-secret-for-tests" not in caplog.text


async def test_an_oauth_start_with_a_control_character_in_its_query_is_refused_not_dropped(client, caplog):
    for path in ("/slack/link?team=%1F", "/slack/install?team=T1%0d%0aSet-Cookie:%20x=1"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 400 and "error" in await response.json()
        assert "Set-Cookie" not in response.headers
    assert "x=1" not in caplog.text
