"""The signing keys the Teams bot checks tokens with: fetched without blocking, refreshed daily,
an unknown key id refreshes them at most hourly, and a failed fetch is retried only after a
growing backoff."""
from __future__ import annotations

import aiohttp
import pytest

from bot.teams.auth import SigningKeys, SigningKeysUnavailable
from tests.fakes.bot_connector import KEY_ID, FakeBotConnector


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
