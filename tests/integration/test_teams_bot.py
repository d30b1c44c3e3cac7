"""The Teams bot through the real application (create_app) against a fake Bot Connector, on
SQLite and PostgreSQL: Bot Framework JWTs signed with a test key, installs, proactive cards,
Action.Execute clicks, card replacement and commands."""
from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from bot.commands import MAX_INCIDENT_NUMBER
from bot.teams.signin import SIGN_IN_UNAVAILABLE
from channels.push import generate_vapid_keys
from incidents import api_keys
from incidents.intake import TriggerRequest
from storage.database import database
from storage.models import Incident, NotificationLog, Team, TeamMember, TeamsChannelReference, TeamsConnection, User
from tests.adaptive_card_schema import schema_errors
from tests.fakes.bot_connector import FakeBotConnector, make_key
from tests.fakes.service import Fault
from tests.log_support import assert_logs_clean, rejection_lines

APP_ID = "0b1c2d3e-0000-4000-8000-00000000a11b"
TENANT = "tenant-1"
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
async def connector():
    async with FakeBotConnector(APP_ID) as fake:
        fake.members["29:alice"] = {
            "id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice", "email": "Alice@Example.com",
            "userPrincipalName": "alice@example.com", "tenantId": TENANT,
        }
        yield fake


@pytest.fixture
def teams_settings(settings, connector):
    return settings.replace(
        teams_app_id=APP_ID, teams_app_password=Secret("bot-password"),
        teams_openid_metadata_url=connector.metadata_url, teams_token_url=connector.token_url,
    )


@pytest.fixture
async def client(aiohttp_client, teams_settings):
    client = await aiohttp_client(create_app(teams_settings))
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com", time_zone="Europe/Berlin")
    await TeamMember.acreate(team=team, user=alice)
    return client


def activity(connector, kind: str, sender: str = "alice", scope: str = "personal", **extra) -> dict:
    conversation = {"id": f"a:{sender}-chat", "conversationType": scope, "tenantId": TENANT}
    if scope == "channel":
        conversation["id"] = "19:general@thread.tacv2"
    body = {
        "type": kind, "id": f"{kind}-1", "channelId": "msteams", "serviceUrl": connector.service_url,
        "from": {"id": f"29:{sender}", "name": sender.title(), "aadObjectId": f"aad-{sender}"},
        "recipient": {"id": f"28:{APP_ID}", "name": "Ackbot"},
        "conversation": conversation,
        "channelData": {"tenant": {"id": TENANT}},
    }
    body.update(extra)
    return body


async def send(client, connector, body: dict, headers: dict | None = None):
    return await client.post("/api/messages", json=body, headers=connector.auth_header() if headers is None else headers)


async def install(client, connector, sender: str = "alice"):
    response = await send(client, connector, activity(connector, "installationUpdate", sender, action="add"))
    assert response.status == 201
    return response


def click(connector, verb: str, number: int, sender: str = "alice") -> dict:
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": {"incident": number}}, "trigger": "manual"}
    return activity(connector, "invoke", sender, name="adaptiveCard/action", value=value)


def texts(card: dict) -> list[str]:
    return [block["text"] for block in card["body"] if block["type"] == "TextBlock"]


LINKS = (("Action.OpenUrl", "Open dashboard"), ("Action.OpenUrl", "Open in Ackbot"))


def buttons(card: dict) -> list[tuple[str, str | None]]:
    return [(action["type"], action.get("verb") or action.get("title")) for action in card.get("actions", [])]


async def dispatch(client) -> None:
    dispatcher = client.app[DISPATCHER_KEY]
    while await dispatcher.run_once():
        pass


async def count(model) -> int:
    return await model._meta.database.count(model.select())


# --- authentication ------------------------------------------------------------------------


async def test_a_valid_token_reaches_the_bot(client, connector):
    await install(client, connector)
    connection = await TeamsConnection.aget_or_none(TeamsConnection.teams_user_id == "29:alice")
    assert connection is not None and connection.aad_object_id == "aad-alice"


def _forged_headers(connector) -> dict[str, dict]:
    other_key = make_key()
    now_claims = connector.channel_claims()
    return {
        "wrong audience": connector.auth_header(aud="another-app"),
        "wrong issuer": connector.auth_header(iss="https://evil.example"),
        "expired": connector.auth_header(exp=now_claims["exp"] - 2 * 3600 - 600, nbf=now_claims["nbf"] - 3 * 3600),
        "bad signature": {"Authorization": f"Bearer {connector.sign(now_claims, key=other_key)}"},
        "unknown key": {"Authorization": f"Bearer {connector.sign(now_claims, key=other_key, kid='unknown-kid')}"},
        "wrong serviceUrl": connector.auth_header(serviceurl="https://elsewhere.example/amer/"),
        "no header": {},
        "not a JWT": {"Authorization": "Bearer not-a-jwt"},
        "not Bearer": {"Authorization": f"Basic {connector.channel_token()}"},
    }


@pytest.mark.parametrize(
    "case",
    ["wrong audience", "wrong issuer", "expired", "bad signature", "unknown key", "wrong serviceUrl", "no header",
     "not a JWT", "not Bearer"],
)
async def test_forged_or_missing_tokens_are_refused_before_the_bot(client, connector, case):
    await install(client, connector)  # a valid request first, so the signing keys are loaded
    before = len(connector.requests)
    body = activity(connector, "message", text="help")
    response = await send(client, connector, body, headers=_forged_headers(connector)[case])
    assert response.status == 401
    assert (await response.json()) == {"error": "missing or invalid Bot Framework token"}
    assert not [request for request in connector.requests[before:] if "/v3/" in request.path]


async def test_a_key_not_endorsed_for_the_channel_is_refused(client, connector):
    body = activity(connector, "installationUpdate", action="add", channelId="webchat")
    response = await send(client, connector, body)
    assert response.status == 401
    assert await count(TeamsConnection) == 0


@pytest.mark.parametrize(
    "raw, content_type, status",
    [
        (b"{}", None, 415),
        (b"{not json", "application/json", 400),
        (b"[1]", "application/json", 400),
        (json.dumps({"id": "x"}).encode(), "application/json", 400),
    ],
)
async def test_requests_without_an_activity_get_a_clear_error(client, connector, raw, content_type, status):
    headers = dict(connector.auth_header())
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/api/messages", data=raw, headers=headers)
    assert response.status == status
    assert "error" in await response.json()


async def test_an_activity_without_service_url_is_refused(client, connector):
    body = activity(connector, "message", text="help")
    del body["serviceUrl"]
    response = await send(client, connector, body)
    assert response.status == 400


@pytest.mark.parametrize(("missing", "error"), [("conversation", "the activity has no conversation"),
                                              ("from", "the activity has no sender")])
async def test_an_authentic_activity_without_a_conversation_or_sender_is_a_400(client, connector, missing, error):
    body = activity(connector, "message", text="help")
    del body[missing]
    response = await send(client, connector, body)
    assert (response.status, await response.json()) == (400, {"error": error})
    assert connector.posted() == []


# --- install and identity ------------------------------------------------------------------


async def test_personal_install_links_by_email_and_uninstall_deactivates(client, connector):
    await install(client, connector)
    connection = await TeamsConnection.aget(TeamsConnection.teams_user_id == "29:alice")
    alice = await User.aget(User.handle == "alice")
    assert (connection.user_id, connection.teams_tenant_id, connection.teams_email) == (alice.id, TENANT, "Alice@Example.com")
    reference = connection.conversation_reference
    assert reference["serviceUrl"] == connector.service_url and reference["conversation"]["id"] == "a:alice-chat"
    assert reference["bot"]["id"] == f"28:{APP_ID}"
    welcome = connector.posted()[-1]
    assert welcome["text"].startswith("Hi Alice!")

    response = await send(client, connector, activity(connector, "installationUpdate", action="remove"))
    assert response.status == 201
    assert (await TeamsConnection.aget_by_id(connection.id)).is_active is False


async def test_an_unknown_person_is_not_stored_until_an_admin_adds_them(client, connector):
    connector.members["29:carol"] = {"id": "29:carol", "name": "Carol", "aadObjectId": "aad-carol", "email": "carol@example.com"}
    await install(client, connector, "carol")
    assert await count(TeamsConnection) == 0
    assert "couldn't find you" in connector.posted()[-1]["text"]

    await send(client, connector, activity(connector, "message", "carol", text="link"))
    assert connector.posted()[-1]["text"] == "No Ackbot user has the email carol@example.com. Ask an admin to add you, then say link again."

    carol = await User.acreate(handle="carol", name="Carol", email="carol@example.com")
    await send(client, connector, activity(connector, "message", "carol", text="link"))
    assert connector.posted()[-1]["text"] == "Linked: this Teams account is Carol in Ackbot; pages for you arrive here."
    connection = await TeamsConnection.aget(TeamsConnection.teams_user_id == "29:carol")
    assert connection.user_id == carol.id and connection.is_active


async def test_team_install_keeps_the_channel_reference_and_removal_deactivates_it(client, connector):
    team_data = {"tenant": {"id": TENANT}, "team": {"id": "19:team@thread.tacv2", "name": "SRE"}, "eventType": "teamMemberAdded"}
    added = activity(connector, "conversationUpdate", scope="channel", channelData=team_data,
                     membersAdded=[{"id": f"28:{APP_ID}"}])
    assert (await send(client, connector, added)).status == 201
    row = await TeamsChannelReference.aget(TeamsChannelReference.conversation_id == "19:general@thread.tacv2")
    assert (row.name, row.teams_tenant_id, row.is_active) == ("SRE", TENANT, True)
    assert row.conversation_reference["conversation"]["id"] == "19:general@thread.tacv2"

    removed = activity(connector, "conversationUpdate", scope="channel", channelData={**team_data, "eventType": "teamMemberRemoved"},
                       membersRemoved=[{"id": f"28:{APP_ID}"}])
    assert (await send(client, connector, removed)).status == 201
    assert (await TeamsChannelReference.aget_by_id(row.id)).is_active is False


# --- pages, clicks and card replacement ----------------------------------------------------


async def _page(client, connector) -> Incident:
    await install(client, connector)
    service = client.app[SERVICE_KEY]
    outcome = await service.trigger(TriggerRequest(
        title="DB primary down", body="Replication lag 300s", priority="CRITICAL", service="db", team="payments",
        dashboard_url="https://grafana.example/d/db",
    ))
    await dispatch(client)
    return outcome.incident


async def test_a_page_is_a_proactive_adaptive_card(client, connector):
    incident = await _page(client, connector)
    page = connector.posted()[-1]
    card = page["attachments"][0]
    assert card["contentType"] == CARD and card["content"]["version"] == "1.5"
    content = card["content"]
    assert texts(content)[0] == f"CRITICAL · #{incident.id} · DB primary down"
    facts = {fact["title"]: fact["value"] for fact in content["body"][1]["facts"]}
    assert (facts["Service"], facts["Team"], facts["Alerts"], facts["Escalation level"]) == ("db", "Payments", "1", "1")
    assert facts["Triggered"].endswith(("CET", "CEST"))  # Alice's zone
    assert buttons(content) == [("Action.Execute", "acknowledge"), ("Action.Execute", "resolve"), *LINKS]
    assert content["actions"][0]["data"] == {"incident": incident.id}
    token_requests = connector.requests_to("/botframework.com/oauth2/v2.0/token")
    assert token_requests and token_requests[0].form["client_secret"] == "bot-password"

    row = await NotificationLog.aget(NotificationLog.channel == "TEAMS")
    assert row.status == "SENT" and row.provider_id == f"a:alice-chat:{row.message_reference['activity_id']}"
    assert row.message_reference["service_url"] == connector.service_url


async def test_a_click_acknowledges_once_and_every_card_is_replaced(client, connector):
    incident = await _page(client, connector)
    page_id = (await NotificationLog.aget(NotificationLog.channel == "TEAMS")).message_reference["activity_id"]

    response = await send(client, connector, click(connector, "acknowledge", incident.id))
    assert response.status == 200
    answer = await response.json()
    assert (answer["statusCode"], answer["type"]) == (200, CARD)
    assert any(text.startswith("Acknowledged by Alice via Teams at ") for text in texts(answer["value"]))
    assert buttons(answer["value"]) == [("Action.Execute", "resolve"), *LINKS]
    stored = await Incident.aget_by_id(incident.id)
    assert (stored.status, stored.acknowledged_by_name, stored.acknowledged_via) == ("ACKNOWLEDGED", "Alice", "TEAMS")

    await dispatch(client)
    (path, replaced), = connector.updated()
    assert path == f"/amer/v3/conversations/a:alice-chat/activities/{page_id}"
    assert replaced["id"] == page_id
    card = replaced["attachments"][0]["content"]
    assert any(text.startswith("Acknowledged by Alice via Teams at ") for text in texts(card))
    assert buttons(card) == [("Action.Execute", "resolve"), *LINKS]

    again = await (await send(client, connector, click(connector, "acknowledge", incident.id))).json()
    assert any(text.startswith("Already acknowledged by Alice via Teams at ") for text in texts(again["value"]))
    assert (await Incident.aget_by_id(incident.id)).acknowledged_at == stored.acknowledged_at
    await dispatch(client)
    assert len(connector.updated()) == 1


async def test_a_repeat_click_answers_with_the_state_another_path_left(client, connector):
    incident = await _page(client, connector)
    await send(client, connector, click(connector, "acknowledge", incident.id))
    key = await api_keys.ApiKeys().create("monitoring")
    response = await client.post(f"/api/v1/incidents/{incident.id}/resolve", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200
    await Team.update(display_name="Payments Core").where(Team.name == "payments").aexecute()

    again = await (await send(client, connector, click(connector, "acknowledge", incident.id))).json()
    card = again["value"]
    assert any(text.startswith("Already resolved by API key monitoring via the API at ") for text in texts(card))
    assert buttons(card) == list(LINKS)
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert (facts["Status"], facts["Team"], facts["Escalation level"]) == ("Resolved", "Payments Core", "1")


async def test_a_repeat_click_by_someone_paged_for_nothing_shows_no_level(client, connector):
    incident = await _page(client, connector)
    await send(client, connector, click(connector, "acknowledge", incident.id))
    bob = await User.acreate(handle="bob", name="Bob", email="bob@example.com")
    await TeamMember.acreate(team=await Team.aget(Team.name == "payments"), user=bob)
    connector.members["29:bob"] = {"id": "29:bob", "name": "Bob", "aadObjectId": "aad-bob", "email": "bob@example.com"}
    await install(client, connector, "bob")

    answer = await (await send(client, connector, click(connector, "resolve", incident.id, sender="bob"))).json()
    assert any(text.startswith("Resolved by Bob via Teams at ") for text in texts(answer["value"]))
    again = await (await send(client, connector, click(connector, "resolve", incident.id, sender="bob"))).json()
    card = again["value"]
    assert any(text.startswith("Already resolved by Bob via Teams at ") for text in texts(card))
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert (facts["Team"], facts["Escalation level"]) == ("Payments", "-")


async def test_acknowledging_elsewhere_replaces_the_teams_card(client, connector):
    incident = await _page(client, connector)
    key = await api_keys.ApiKeys().create("monitoring")
    response = await client.post(f"/api/v1/incidents/{incident.id}/acknowledge", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200
    await dispatch(client)
    (_, replaced), = connector.updated()
    card = replaced["attachments"][0]["content"]
    assert any(text.startswith("Acknowledged by API key monitoring via the API at ") for text in texts(card))


async def test_a_click_by_someone_unknown_or_uninvolved_changes_nothing(client, connector):
    incident = await _page(client, connector)
    stranger = await (await send(client, connector, click(connector, "resolve", incident.id, sender="mallory"))).json()
    assert stranger["type"] == "application/vnd.microsoft.activity.message"
    assert stranger["value"].startswith("I don't know who you are")

    outsider = await User.acreate(handle="olivia", name="Olivia", email="olivia@example.com")
    connector.members["29:olivia"] = {"id": "29:olivia", "name": "Olivia", "aadObjectId": "aad-olivia", "email": "olivia@example.com"}
    await install(client, connector, "olivia")
    refused = await (await send(client, connector, click(connector, "resolve", incident.id, sender="olivia"))).json()
    assert refused["value"].startswith(f"Sorry, you can't act on #{incident.id}")
    assert outsider.id and (await Incident.aget_by_id(incident.id)).status == "TRIGGERED"


@pytest.mark.parametrize(
    "value",
    [None, {"action": {"type": "Action.Submit", "verb": "acknowledge", "data": {"incident": 1}}},
     {"action": {"type": "Action.Execute", "verb": "delete", "data": {"incident": 1}}},
     {"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {"incident": "1; drop"}}}],
)
async def test_a_malformed_card_action_is_a_400_invoke_answer(client, connector, value):
    body = activity(connector, "invoke", name="adaptiveCard/action", value=value)
    response = await send(client, connector, body)
    assert response.status == 400
    answer = await response.json()
    assert answer["statusCode"] == 400 and answer["type"] == "application/vnd.microsoft.error"


async def test_a_gone_conversation_fails_the_page_for_good(client, connector):
    await install(client, connector)
    connector.fail_next(Fault(status=403, body='{"error": {"code": "BotNotInConversationRoster", "message": "removed"}}'))
    await client.app[SERVICE_KEY].trigger(TriggerRequest(title="x", team="payments"))
    await dispatch(client)
    row = await NotificationLog.aget(NotificationLog.channel == "TEAMS")
    assert row.status == "FAILED" and row.error == "HTTP 403: BotNotInConversationRoster: removed"


async def test_a_rate_limited_page_is_retried_after_the_connector_says(client, connector):
    await install(client, connector)
    connector.fail_next(Fault(status=429, headers=(("Retry-After", "120"),)))
    await client.app[SERVICE_KEY].trigger(TriggerRequest(title="x", team="payments"))
    await dispatch(client)
    row = await NotificationLog.aget(NotificationLog.channel == "TEAMS")
    assert row.status == "QUEUED" and row.next_attempt_at - row.last_attempt_at >= timedelta(seconds=120)


# --- commands ------------------------------------------------------------------------------


def card_texts(card: dict) -> list[str]:
    """Every text on a card, facts as "title: value", containers included."""
    found = []
    for element in card["body"]:
        if element["type"] == "TextBlock":
            found.append(element["text"])
        found += [f"{fact['title']}: {fact['value']}" for fact in element.get("facts", [])]
        found += [item["text"] for item in element.get("items", []) if item["type"] == "TextBlock"]
    return found


async def test_status_answers_with_an_adaptive_card_in_the_askers_zone(client, connector):
    incident = await _page(client, connector)
    message = activity(connector, "message", text=f"<at>Ackbot</at> status {incident.id}")
    assert (await send(client, connector, message)).status == 201
    reply = connector.posted()[-1]
    assert reply["replyToId"] == "message-1" and reply["summary"] == f"#{incident.id} CRITICAL · DB primary down [TRIGGERED]"
    [attachment] = reply["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == CARD and schema_errors(card) == []
    page = await NotificationLog.aget(NotificationLog.incident == incident.id)
    sent = page.sent_at.astimezone(ZoneInfo("Europe/Berlin"))
    texts = card_texts(card)
    assert texts[0] == f"#{incident.id} CRITICAL · DB primary down"
    assert f"Times in: Europe/Berlin ({sent:%Z})" in texts
    assert "Alice · level 1" in texts and f"📨 Teams: sent {sent:%H:%M}, waiting for a receipt" in texts
    verbs = [(action["verb"], action["data"]) for action in card["actions"]]
    assert verbs == [("acknowledge", {"incident": incident.id}), ("resolve", {"incident": incident.id})]
    response = await send(client, connector, click(connector, verbs[0][0], verbs[0][1]["incident"]))
    assert response.status == 200 and (await Incident.aget_by_id(incident.id)).acknowledged_by_name == "Alice"


async def test_the_status_of_a_forty_person_incident_fits_in_one_teams_message(client, connector):
    await install(client, connector)
    alice = await TeamsConnection.aget()
    team = await Team.aget(Team.name == "payments")
    for index in range(39):
        person = await User.acreate(handle=f"p{index}", name=f"Person {index:02d}", email=f"p{index}@example.com")
        await TeamMember.acreate(team=team, user=person)
        await TeamsConnection.acreate(
            user=person, teams_user_id=f"29:p{index}", teams_tenant_id=TENANT, conversation_reference=alice.conversation_reference,
        )
    incident = (await client.app[SERVICE_KEY].trigger(TriggerRequest(title="DB primary down", team="payments"))).incident
    await dispatch(client)
    assert (await send(client, connector, activity(connector, "message", text=f"status {incident.id}"))).status == 201
    card = connector.posted()[-1]["attachments"][0]["content"]  # the fake refuses messages over Teams' size limit
    assert schema_errors(card) == []
    assert "40 people paged: 📨 40 sent" in card_texts(card)
    assert any(text.startswith("40 more, nothing failed: Alice, Person 00") for text in card_texts(card))


async def test_status_of_an_unknown_incident_says_so(client, connector):
    await install(client, connector)
    await send(client, connector, activity(connector, "message", text="status 999"))
    assert connector.posted()[-1]["text"] == "There is no incident #999."


async def test_commands_act_for_the_linked_person(client, connector):
    incident = await _page(client, connector)
    await send(client, connector, activity(connector, "message", text="ack"))
    assert connector.posted()[-1]["text"] == f"#{incident.id} acknowledged by Alice via Teams."
    await send(client, connector, activity(connector, "message", text="list"))
    listing = connector.posted()[-1]["attachments"][0]["content"]
    assert schema_errors(listing) == []
    assert f"#{incident.id} CRITICAL · DB primary down" in card_texts(listing)
    assert any(text.startswith("Payments · Acknowledged · 0 min ago · Acknowledged by Alice via Teams at ") for text in card_texts(listing))
    [container] = [element for element in listing["body"] if element["type"] == "Container"]
    assert [action["verb"] for action in container["items"][-1]["actions"]] == ["resolve"]
    await send(client, connector, activity(connector, "message", text="push"))
    assert connector.posted()[-1]["text"] == "Push notifications are off on this Ackbot server."
    await send(client, connector, activity(connector, "message", text="frobnicate"))
    assert connector.posted()[-1]["text"].startswith('I don\'t know "frobnicate".')


async def test_test_pages_the_person_on_teams(client, connector):
    await install(client, connector)
    await send(client, connector, activity(connector, "message", text="test"))
    assert connector.posted()[-1]["text"] == "Test page on its way to: teams."
    await dispatch(client)
    card = connector.posted()[-1]["attachments"][0]["content"]
    assert texts(card)[0] == "Ackbot test page" and "actions" not in card


async def test_commands_from_someone_unknown_say_how_to_link(client, connector):
    await send(client, connector, activity(connector, "message", "mallory", text="ack 1"))
    assert connector.posted()[-1]["text"].startswith("I don't know who you are in Ackbot yet")


# --- OAuth sign-in and tenants -------------------------------------------------------------


async def test_link_with_an_oauth_connection_signs_in_and_keeps_the_token_encrypted(
    aiohttp_client, teams_settings, connector
):
    client = await aiohttp_client(create_app(
        teams_settings.replace(teams_oauth_connection="aad", teams_token_service_url=connector.url)
    ))
    await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await install(client, connector)

    await send(client, connector, activity(connector, "message", text="link"))
    sign_in_card = connector.posted()[-1]["attachments"][0]
    assert sign_in_card["contentType"] == "application/vnd.microsoft.card.oauth"
    assert sign_in_card["content"]["connectionName"] == "aad"
    assert sign_in_card["content"]["buttons"][0]["value"].startswith(f"{connector.url}/sign-in?state=")

    connector.magic_codes["402913"] = {"token": "user-access-token", "expiration": "2030-01-02T03:04:05Z"}
    verify = activity(connector, "invoke", name="signin/verifyState", value={"state": "402913"})
    assert (await send(client, connector, verify)).status == 200
    assert connector.posted()[-1]["text"] == "Signed in: this Teams account is linked."
    connection = await TeamsConnection.aget(TeamsConnection.teams_user_id == "29:alice")
    assert connection.access_token == "user-access-token"
    assert connection.token_expires_at.isoformat() == "2030-01-02T03:04:05+00:00"
    raw = await database.run(database.execute_sql, "SELECT access_token FROM teams_connection")
    assert "user-access-token" not in str(list(raw))

    await send(client, connector, activity(connector, "message", text="link"))
    assert connector.posted()[-1]["text"] == "Linked and signed in as Alice."


async def test_with_a_tenant_configured_other_tenants_are_ignored(aiohttp_client, teams_settings, connector):
    client = await aiohttp_client(create_app(teams_settings.replace(teams_tenant_id="tenant-2")))
    await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await install(client, connector)
    assert await count(TeamsConnection) == 0
    assert connector.posted() == []


async def test_without_an_app_id_teams_is_off(aiohttp_client, settings, connector):
    client = await aiohttp_client(create_app(settings.replace(teams_app_password=Secret("x"))))
    health = await (await client.get("/healthz")).json()
    assert health["channels"]["teams"] == "off: set ACKBOT_TEAMS_APP_ID"
    response = await send(client, connector, activity(connector, "message", text="help"))
    assert response.status == 404


async def test_healthz_says_teams_is_on(client):
    health = await (await client.get("/healthz")).json()
    assert health["channels"]["teams"] == "on"


async def test_push_answers_with_a_one_time_subscribe_link(aiohttp_client, teams_settings, connector):
    private_key, _ = generate_vapid_keys()
    client = await aiohttp_client(create_app(teams_settings.replace(vapid_private_key=Secret(private_key))))
    await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await install(client, connector)
    await send(client, connector, activity(connector, "message", text="push"))
    answer = connector.posted()[-1]["text"]
    assert answer.startswith("Open this link on the device that should get push pages")
    assert "http://ackbot.test/push/p/" in answer


async def test_unreachable_signing_keys_are_a_503_not_a_pass(aiohttp_client, teams_settings, connector):
    client = await aiohttp_client(create_app(teams_settings.replace(teams_openid_metadata_url=f"{connector.url}/missing")))
    response = await send(client, connector, activity(connector, "message", text="help"))
    assert response.status == 503
    assert connector.posted() == []


async def test_the_conversation_update_of_an_install_stores_without_a_second_greeting(client, connector):
    added = activity(connector, "conversationUpdate", membersAdded=[{"id": f"28:{APP_ID}"}, {"id": "29:alice"}])
    assert (await send(client, connector, added)).status == 201
    await install(client, connector)
    await send(client, connector, activity(connector, "installationUpdate", action="add-upgrade"))
    assert [message["text"] for message in connector.posted()] == [
        "Hi Alice! Incident pages for you will arrive here as cards you can acknowledge or resolve. Say help for the commands."
    ]
    assert await count(TeamsConnection) == 1


async def test_web_answers_with_a_link_that_signs_in_once(client, connector):
    await install(client, connector)
    await send(client, connector, activity(connector, "message", text="web"))
    answer = connector.posted()[-1]["text"]
    assert answer.startswith("This link signs you in to Ackbot's web view")
    path = answer.split("http://ackbot.test", 1)[1]
    signed = await client.post(path, allow_redirects=False)
    assert signed.status == 303 and "ackbot_session=" in signed.headers["Set-Cookie"]


# --- hardening -------------------------------------------------------------------------------


@pytest.mark.parametrize("authenticated", [True, False])
async def test_json_nested_5000_deep_is_a_400_without_a_traceback(client, connector, caplog, authenticated):
    caplog.set_level(logging.DEBUG)
    raw = '{"type": "message", "value": ' + "[" * 5000 + "]" * 5000 + "}"
    headers = {"Content-Type": "application/json", **(connector.auth_header() if authenticated else {})}
    response = await client.post("/api/messages", data=raw, headers=headers)
    assert response.status == 400 and (await response.json()) == {"error": "the body is not valid JSON"}
    assert_logs_clean(caplog, "[[[[")
    assert rejection_lines(caplog) == [f"rejected POST /api/messages: the body is not valid JSON ({len(raw)} bytes)"]


async def test_an_unauthenticated_body_is_not_read_nor_logged(client, connector, caplog):
    caplog.set_level(logging.DEBUG)
    body = activity(connector, "message", text="secret-text", attachments="not-a-list", timestamp="not-a-time",
                    entities=[{"type": 42}], value={"secret": "secret-value"})
    response = await send(client, connector, body, headers={"Authorization": "Bearer forged.token.value"})
    assert response.status == 401
    assert_logs_clean(caplog, "secret-text", "secret-value", "not-a-list", "not-a-time", "forged.token.value")
    assert rejection_lines(caplog) == [
        f"rejected POST /api/messages: missing or invalid Bot Framework token ({len(json.dumps(body))} bytes)"
    ]


async def test_a_token_without_expiry_is_refused(client, connector):
    claims = connector.channel_claims()
    del claims["exp"]
    response = await send(client, connector, activity(connector, "message", text="help"),
                          headers={"Authorization": f"Bearer {connector.sign(claims)}"})
    assert response.status == 401
    assert connector.posted() == []


async def test_a_token_expired_within_the_clock_skew_is_accepted(client, connector):
    now = connector.channel_claims()["iat"] + 10
    response = await send(client, connector, activity(connector, "message", text="help"),
                          headers=connector.auth_header(exp=now - 240))
    assert response.status == 201


@pytest.mark.parametrize("number", [10**30, -1, 0, MAX_INCIDENT_NUMBER + 1, "1e3", " 15", 1.5, True])
async def test_an_out_of_range_incident_number_is_a_clear_400(client, connector, caplog, number):
    caplog.set_level(logging.DEBUG)
    await install(client, connector)
    response = await send(client, connector, click(connector, "acknowledge", number))
    assert response.status == 400
    answer = await response.json()
    assert answer["value"]["message"] == f"incident must be a number from 1 to {MAX_INCIDENT_NUMBER}"
    assert_logs_clean(caplog)


async def test_a_card_number_sent_as_text_acts(client, connector):
    await install(client, connector)
    incident = (await client.app[SERVICE_KEY].trigger(TriggerRequest(title="DB down", team="payments"))).incident
    response = await send(client, connector, click(connector, "acknowledge", str(incident.id)))
    assert response.status == 200
    assert (await Incident.aget_by_id(incident.id)).status == "ACKNOWLEDGED"


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_link_says_sign_in_is_unavailable_when_the_token_service_cannot_be_reached(
    aiohttp_client, teams_settings, connector, caplog
):
    caplog.set_level(logging.DEBUG)
    client = await aiohttp_client(create_app(
        teams_settings.replace(teams_oauth_connection="aad", teams_token_service_url=_closed_port_url())
    ))
    await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await install(client, connector)
    response = await send(client, connector, activity(connector, "message", text="link"))
    assert response.status == 201
    assert connector.posted()[-1]["text"] == SIGN_IN_UNAVAILABLE
    verify = await send(client, connector, activity(connector, "invoke", name="signin/verifyState", value={"state": "402913"}))
    assert verify.status < 500 and connector.posted()[-1]["text"] == SIGN_IN_UNAVAILABLE
    assert_logs_clean(caplog)


async def test_while_the_signing_keys_are_unavailable_requests_get_503_and_one_fetch(aiohttp_client, teams_settings, connector):
    client = await aiohttp_client(create_app(teams_settings.replace(teams_openid_metadata_url=f"{connector.url}/missing")))
    responses = [await send(client, connector, activity(connector, "message", text="help")) for _ in range(5)]
    assert [response.status for response in responses] == [503] * 5
    assert all(1 <= int(response.headers["Retry-After"]) <= 5 for response in responses)
    assert len(connector.requests_to("/missing")) == 1
