"""Ackbot's own checks of the Bot Framework tokens on ``POST /api/messages``, one rule at a time,
through the real application: each broken rule is a 401 with one rejection line, and the
activity (a personal install) has no effect — no connection stored, nothing sent to Teams."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from incidents.intake import TriggerRequest
from storage.models import Team, TeamMember, TeamsConnection, User
from tests.fakes.bot_connector import KEY_ID, FakeBotConnector
from tests.log_support import rejection_lines

APP_ID = "7f3e2d1c-0000-4000-8000-0000000070c1"
TOKEN_PATH = "/botframework.com/oauth2/v2.0/token"


@pytest.fixture
async def connector():
    async with FakeBotConnector(APP_ID) as fake:
        fake.members["29:alice"] = {"id": "29:alice", "name": "Alice", "email": "alice@example.com"}
        yield fake


@pytest.fixture
async def client(aiohttp_client, settings, connector):
    client = await aiohttp_client(create_app(settings.replace(
        teams_app_id=APP_ID, teams_app_password=Secret("bot-password"),
        teams_openid_metadata_url=connector.metadata_url, teams_token_url=connector.token_url,
    )))
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=alice)
    return client


def install_activity(connector, **extra) -> dict:
    return {
        "type": "installationUpdate", "action": "add", "id": "install-1", "channelId": "msteams",
        "serviceUrl": connector.service_url,
        "from": {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"},
        "recipient": {"id": f"28:{APP_ID}", "name": "Ackbot"},
        "conversation": {"id": "a:alice-chat", "conversationType": "personal", "tenantId": "tenant-1"},
        **extra,
    }


def _segment(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def hs256_with_the_public_key(connector) -> str:
    """The key-confusion forgery: HS256 "signed" with the RSA public key as the HMAC secret."""
    secret = connector.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY_ID})}.{_segment(connector.channel_claims())}"
    signature = base64.urlsafe_b64encode(hmac.new(secret, signed.encode(), hashlib.sha256).digest()).rstrip(b"=")
    return f"{signed}.{signature.decode()}"


def forged_token(connector, case: str) -> str:
    now = connector.channel_claims()["iat"] + 10
    claims = connector.channel_claims
    return {
        "wrong issuer": lambda: connector.sign(claims(iss="https://login.botframework.com")),
        "wrong audience": lambda: connector.sign(claims(aud="00000000-0000-4000-8000-000000000bad")),
        "expired beyond the skew": lambda: connector.sign(claims(exp=now - 400)),
        "not valid yet beyond the skew": lambda: connector.sign(claims(nbf=now + 400)),
        "unknown kid": lambda: connector.sign(claims(), kid="rotated-away"),
        "no kid": lambda: jwt.encode(claims(), connector.key, algorithm="RS256"),
        "serviceurl mismatch": lambda: connector.sign(claims(serviceurl="https://smba.trafficmanager.net/emea/")),
        "no serviceurl claim": lambda: connector.sign({key: value for key, value in claims().items() if key != "serviceurl"}),
        "alg none": lambda: jwt.encode(claims(), None, algorithm="none", headers={"kid": KEY_ID}),
        "HS256": lambda: jwt.encode(claims(), "a-shared-secret-that-is-long-enough-for-hs256", algorithm="HS256", headers={"kid": KEY_ID}),
        "HS256 with the public key": lambda: hs256_with_the_public_key(connector),
    }[case]()


CASES = ["wrong issuer", "wrong audience", "expired beyond the skew", "not valid yet beyond the skew", "unknown kid",
         "no kid", "serviceurl mismatch", "no serviceurl claim", "alg none", "HS256", "HS256 with the public key"]


async def _assert_refused_and_nothing_done(client, connector, caplog, body: dict, token: str) -> None:
    caplog.set_level(logging.INFO)
    response = await client.post("/api/messages", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401
    assert await response.json() == {"error": "missing or invalid Bot Framework token"}
    assert rejection_lines(caplog) == [
        f"rejected POST /api/messages: missing or invalid Bot Framework token ({len(json.dumps(body))} bytes)"
    ]
    assert await TeamsConnection._meta.database.count(TeamsConnection.select()) == 0
    assert [request.path for request in connector.requests if "/v3/" in request.path or request.path == TOKEN_PATH] == []


@pytest.mark.parametrize("case", CASES)
async def test_a_token_breaking_one_rule_is_a_401_and_nothing_happens(client, connector, caplog, case):
    await _assert_refused_and_nothing_done(client, connector, caplog, install_activity(connector), forged_token(connector, case))


async def test_a_key_that_does_not_endorse_the_channel_is_a_401(client, connector, caplog):
    connector.endorsements = ["webchat", "skype"]
    await _assert_refused_and_nothing_done(client, connector, caplog, install_activity(connector), connector.channel_token())


async def test_the_same_install_with_a_valid_token_acts(client, connector):
    response = await client.post("/api/messages", json=install_activity(connector), headers=connector.auth_header())
    assert response.status == 201
    assert (await TeamsConnection.aget()).teams_user_id == "29:alice"
    assert connector.posted()[-1]["text"].startswith("Hi Alice!")


async def test_replies_and_pages_share_one_bot_token(client, connector):
    response = await client.post("/api/messages", json=install_activity(connector), headers=connector.auth_header())
    assert response.status == 201  # the member lookup and the welcome reply
    await client.app[SERVICE_KEY].trigger(TriggerRequest(title="DB primary down", team="payments"))
    while await client.app[DISPATCHER_KEY].run_once():
        pass
    page = connector.posted()[-1]
    assert "DB primary down" in page["summary"] and page["attachments"]
    assert len(connector.requests_to(TOKEN_PATH)) == 1
