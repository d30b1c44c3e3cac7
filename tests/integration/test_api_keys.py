"""Intake API keys on SQLite and PostgreSQL: stored hashed, checked by hash, revocable."""
from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest

from incidents.api_keys import ApiKeyError, ApiKeys
from storage.database import database
from storage.fields import utcnow
from storage.models import ApiKey, Team

_keys = ApiKeys()
authenticate, create_api_key, list_api_keys, revoke_api_key = _keys.authenticate, _keys.create, _keys.all_keys, _keys.revoke


async def _raw_rows() -> list[tuple]:
    cursor = await database.run(database.execute_sql, "SELECT * FROM api_key")
    return cursor.fetchall()


async def test_only_the_hash_and_a_short_prefix_are_stored(storage):
    key = await create_api_key("alertmanager")
    assert key.startswith("ackbot_") and len(key) == 50
    rows = await _raw_rows()
    assert len(rows) == 1
    assert not any(key in str(value) for value in rows[0])
    stored = await database.run(ApiKey.get, ApiKey.name == "alertmanager")
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:12]


async def test_a_created_key_authenticates(storage):
    key = await create_api_key("grafana")
    api_key = await authenticate(key)
    assert api_key is not None and api_key.name == "grafana"
    assert api_key.last_used_at is not None


@pytest.mark.parametrize(
    "presented",
    [None, "", "Bearer x", "ackbot_", "ackbot_" + "A" * 43, "ackbot_" + "!" * 43, 42],
)
async def test_missing_malformed_and_unknown_keys_fail(storage, presented):
    await create_api_key("grafana")
    assert await authenticate(presented) is None


async def test_a_near_miss_fails(storage):
    key = await create_api_key("grafana")
    altered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert await authenticate(altered) is None


async def test_a_revoked_key_fails(storage):
    key = await create_api_key("grafana")
    assert (await authenticate(key)).name == "grafana"  # remembered now
    assert await revoke_api_key("grafana") is True
    assert await authenticate(key) is None
    assert await revoke_api_key("grafana") is False
    assert await revoke_api_key("nobody") is False


async def test_a_key_revoked_by_another_process_fails_within_the_cache_time(storage):
    server = ApiKeys(cache_seconds=0.3)
    key = await create_api_key("grafana")
    assert (await server.authenticate(key)).name == "grafana"
    assert await ApiKeys().revoke("grafana") is True  # `ackbot apikey revoke` runs in a process of its own
    assert (await server.authenticate(key)).name == "grafana"
    await asyncio.sleep(0.4)
    assert await server.authenticate(key) is None


async def test_an_unknown_key_is_not_remembered(storage):
    server = ApiKeys()
    plain = await ApiKeys().create("grafana", key="k" * 20)
    await database.run(lambda: ApiKey.delete().execute())
    assert await server.authenticate(plain) is None
    await ApiKeys().create("grafana", key=plain)
    assert (await server.authenticate(plain)).name == "grafana"


async def test_revoking_one_key_leaves_the_others(storage):
    kept = await create_api_key("grafana")
    await create_api_key("script")
    await revoke_api_key("script")
    assert (await authenticate(kept)).name == "grafana"


async def test_duplicate_names_are_refused(storage):
    await create_api_key("grafana")
    with pytest.raises(ApiKeyError, match="an API key named grafana already exists"):
        await create_api_key("grafana")
    await revoke_api_key("grafana")
    with pytest.raises(ApiKeyError, match="already exists"):
        await create_api_key("grafana")
    assert len(await list_api_keys()) == 1


@pytest.mark.parametrize("name", ["", " ", "has space", "-leading-dash", "x" * 101, "café/ops"])
async def test_bad_names_are_refused(storage, name):
    with pytest.raises(ApiKeyError, match="API key name"):
        await create_api_key(name)
    assert await list_api_keys() == []


async def test_list_shows_every_key_by_name(storage):
    for name in ("script", "alertmanager", "grafana"):
        await create_api_key(name)
    await revoke_api_key("script")
    keys = await list_api_keys()
    assert [key.name for key in keys] == ["alertmanager", "grafana", "script"]
    assert [key.revoked_at is not None for key in keys] == [False, False, True]


async def _last_used(name: str):
    return (await database.run(ApiKey.get, ApiKey.name == name)).last_used_at


async def test_last_used_is_written_at_most_once_a_minute(storage):
    authenticate = ApiKeys(cache_seconds=0).authenticate  # every call reads the row
    key = await create_api_key("grafana")
    await authenticate(key)
    first = await _last_used("grafana")
    await authenticate(key)
    assert await _last_used("grafana") == first

    long_ago = utcnow() - timedelta(minutes=2)
    await database.run(
        lambda: ApiKey.update(last_used_at=long_ago).where(ApiKey.name == "grafana").execute()
    )
    await authenticate(key)
    assert await _last_used("grafana") > first


async def test_a_kept_key_is_stored_hashed_bound_to_a_team_and_authenticates(storage):
    await Team.acreate(name="payments", display_name="Payments")
    routing_key = "0123456789abcdef0123456789abcdef"  # a PagerDuty integration key's shape
    assert await create_api_key("pagerduty", team="payments", service="checkout", key=routing_key) == routing_key
    rows = await _raw_rows()
    assert not any(routing_key in str(value) for value in rows[0])
    api_key = await authenticate(routing_key)
    assert (api_key.name, api_key.service, api_key.prefix) == ("pagerduty", "checkout", "0123")
    assert (await Team.aget_by_id(api_key.team_id)).name == "payments"
    [listed] = await list_api_keys()
    assert (listed.team_name, listed.service) == ("payments", "checkout")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"key": "short-key"}, "--key: a kept key is 16 to 128"),
        ({"key": "has spaces in it, sixteen+"}, "--key: a kept key is 16 to 128"),
        ({"key": "k" * 129}, "--key: a kept key is 16 to 128"),
        ({"key": "ünïcode-key-0123456789"}, "--key: a kept key is 16 to 128"),
        ({"team": "nobody"}, "--team: no team named 'nobody'"),
        ({"service": "s" * 201}, "--service: at most 200 characters"),
    ],
)
async def test_bad_bindings_and_kept_keys_are_refused(storage, kwargs, message):
    with pytest.raises(ApiKeyError, match=message):
        await create_api_key("sender", **kwargs)
    assert await list_api_keys() == []


async def test_a_kept_key_already_in_use_is_refused(storage):
    token = "c1b2a3d4-e5f6-4789-abcd-0123456789ab"  # an Opsgenie key's shape
    await create_api_key("opsgenie", key=token)
    with pytest.raises(ApiKeyError, match="already in use"):
        await create_api_key("opsgenie-2", key=token)
    assert [key.name for key in await list_api_keys()] == ["opsgenie"]
