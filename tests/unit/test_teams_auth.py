"""The signing keys the Teams bot checks tokens with (fetched without blocking, refreshed daily,
an unknown key id refreshes them at most hourly, a failed fetch retried only after a growing
backoff), and the rules a channel token must meet."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt
import pytest

from bot.teams.auth import ChannelTokens, SigningKeys, SigningKeysUnavailable, TokenRejected
from tests.fakes.bot_connector import KEY_ID, FakeBotConnector, make_key


@pytest.fixture
async def connector():
    async with FakeBotConnector("app") as fake:
        yield fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


class Seconds:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fetches(connector) -> int:
    return len(connector.requests_to("/keys"))


async def test_keys_are_fetched_once_and_refreshed_daily(connector, session):
    clock = Seconds()
    keys = SigningKeys(connector.metadata_url, session, clock)
    key = await keys.get(KEY_ID)
    assert key.endorsements == ["msteams"] and key.public_key.key_size == 2048
    await keys.get(KEY_ID)
    assert _fetches(connector) == 1
    clock.now += 24 * 3600 + 1
    await keys.get(KEY_ID)
    assert _fetches(connector) == 2


async def test_an_unknown_key_refreshes_at_most_hourly(connector, session):
    clock = Seconds()
    keys = SigningKeys(connector.metadata_url, session, clock)
    await keys.get(KEY_ID)
    for _ in range(3):
        with pytest.raises(PermissionError, match="unknown key"):
            await keys.get("rotated-key")
    assert _fetches(connector) == 1
    clock.now += 3601
    with pytest.raises(PermissionError):
        await keys.get("rotated-key")
    assert _fetches(connector) == 2


async def test_unreachable_metadata_means_no_token_can_be_checked(connector, session):
    keys = SigningKeys(f"{connector.url}/missing", session)
    with pytest.raises(SigningKeysUnavailable):
        await keys.get(KEY_ID)


async def test_after_a_failed_fetch_the_next_waits_out_a_growing_backoff(connector, session):
    clock = Seconds()
    keys = SigningKeys(f"{connector.url}/missing", session, clock)
    waits = []
    for _ in range(3):
        with pytest.raises(SigningKeysUnavailable) as failure:
            await keys.get(KEY_ID)
        waits.append(failure.value.retry_after)
        for _ in range(20):  # a flood while it is down fetches nothing more
            with pytest.raises(SigningKeysUnavailable):
                await keys.get(KEY_ID)
        clock.now += failure.value.retry_after
    assert len(connector.requests_to("/missing")) == 3
    assert 3 <= waits[0] <= 5 and 5 <= waits[1] <= 10 and 10 <= waits[2] <= 20


async def test_the_backoff_is_capped_and_ends_once_the_keys_are_back(connector, session):
    clock = Seconds()
    keys = SigningKeys(f"{connector.url}/missing", session, clock)
    for _ in range(12):
        with pytest.raises(SigningKeysUnavailable) as failure:
            await keys.get(KEY_ID)
        clock.now += failure.value.retry_after
    assert failure.value.retry_after <= 300
    keys.url = connector.metadata_url
    assert (await keys.get(KEY_ID)).endorsements == ["msteams"]


# --- the token rules, each refused for its own reason ------------------------------------------


def _checker(connector, session) -> ChannelTokens:
    return ChannelTokens(SigningKeys(connector.metadata_url, session), "app")


@pytest.mark.parametrize(
    "token, reason",
    [
        (lambda c: c.channel_token(iss="https://sts.windows.net/tenant/"), "InvalidIssuerError"),
        (lambda c: c.channel_token(aud="someone-else"), "InvalidAudienceError"),
        (lambda c: c.channel_token(aud=["app", "someone-else"]), "audience is not only this bot"),
        (lambda c: c.channel_token(exp=c.channel_claims()["iat"] - 400), "ExpiredSignatureError"),
        (lambda c: c.channel_token(nbf=c.channel_claims()["iat"] + 400), "ImmatureSignatureError"),
        (lambda c: c.sign({k: v for k, v in c.channel_claims().items() if k != "exp"}), "MissingRequiredClaimError"),
        (lambda c: c.sign(c.channel_claims(), kid="elsewhere"), "unknown key"),
        (lambda c: jwt.encode(c.channel_claims(), c.key, algorithm="RS256"), "names no signing key"),
        (lambda c: jwt.encode(c.channel_claims(), None, algorithm="none", headers={"kid": KEY_ID}), "not signed with RS256"),
        (lambda c: jwt.encode(c.channel_claims(), "k" * 32, algorithm="HS256", headers={"kid": KEY_ID}), "not signed with RS256"),
        (lambda c: c.channel_token(serviceurl="https://elsewhere.example/"), "serviceurl claim"),
        (lambda c: "not-a-jwt", "not a JWT"),
    ],
)
async def test_each_broken_rule_is_refused_for_its_reason(connector, session, token, reason):
    with pytest.raises(TokenRejected, match=reason):
        await _checker(connector, session).check(f"Bearer {token(connector)}", "msteams", connector.service_url)


async def test_the_key_must_endorse_the_activitys_channel(connector, session):
    checker = _checker(connector, session)
    with pytest.raises(TokenRejected, match="does not endorse"):
        await checker.check(f"Bearer {connector.channel_token()}", "webchat", connector.service_url)
    claims = await checker.check(f"Bearer {connector.channel_token()}", "msteams", connector.service_url)
    assert claims["serviceurl"] == connector.service_url


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer  ", "Basic abc", "bearer"])
async def test_without_a_bearer_token_nothing_is_fetched(connector, session, header):
    with pytest.raises(TokenRejected, match="no Bearer token"):
        await _checker(connector, session).check(header, "msteams", connector.service_url)
    assert _fetches(connector) == 0


# --- a token that passed is remembered -------------------------------------------------------


async def test_a_remembered_token_still_meets_the_rules_of_each_request(connector, session):
    checker = _checker(connector, session)
    token = connector.channel_token()
    await checker.check(f"Bearer {token}", "msteams", connector.service_url)
    with pytest.raises(TokenRejected, match="does not endorse"):
        await checker.check(f"Bearer {token}", "webchat", connector.service_url)
    with pytest.raises(TokenRejected, match="serviceurl claim"):
        await checker.check(f"Bearer {token}", "msteams", "https://elsewhere.example/")
    assert (await checker.check(f"Bearer {token}", "msteams", connector.service_url))["aud"] == "app"


async def test_a_remembered_token_is_refused_once_it_expires(connector, session):
    checker = _checker(connector, session)
    token = connector.channel_token(exp=int(time.time()) - 299)  # within the five minutes' skew for a second
    await checker.check(f"Bearer {token}", "msteams", connector.service_url)
    await asyncio.sleep(1.2)
    with pytest.raises(TokenRejected, match="ExpiredSignatureError"):
        await checker.check(f"Bearer {token}", "msteams", connector.service_url)


async def test_a_remembered_token_is_refused_once_its_key_is_withdrawn(connector, session):
    clock = Seconds()
    checker = ChannelTokens(SigningKeys(connector.metadata_url, session, clock), "app")
    token = connector.channel_token()
    await checker.check(f"Bearer {token}", "msteams", connector.service_url)
    connector.key = make_key()  # the same key id now names another key
    clock.now += 24 * 3600 + 1
    with pytest.raises(TokenRejected, match="InvalidSignatureError"):
        await checker.check(f"Bearer {token}", "msteams", connector.service_url)
    assert _fetches(connector) == 2
