"""Bolt's installation and OAuth state stores over the database, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation

from bot.slack.stores import PeeweeInstallationStore, PeeweeOAuthStateStore
from storage.database import database
from storage.models import SlackInstallation
from tests.fakes.channel import FixedClock


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
async def store(storage, clock):
    return PeeweeInstallationStore("111.222", clock=clock)


def _installation(installer: str, bot_token: str | None, user_token: str | None = None, **extra) -> Installation:
    return Installation(
        app_id="A1", team_id="T1", team_name="Acme", user_id=installer, bot_token=bot_token,
        bot_id="B1" if bot_token else None, bot_user_id="UBOT" if bot_token else None, bot_scopes="chat:write",
        user_token=user_token, **extra,
    )


async def test_states_are_single_use_and_expire(storage, clock):
    states = PeeweeOAuthStateStore("install", expiration_seconds=600, clock=clock)
    first, second = await states.async_issue(), await states.async_issue()
    assert first.startswith("install.") and first != second
    assert await states.async_consume(first) is True
    assert await states.async_consume(first) is False
    clock.advance(seconds=601)
    assert await states.async_consume(second) is False
    assert await states.async_consume("") is False


async def test_saving_again_for_the_same_installer_updates_in_place_and_keeps_the_user_token(store, clock):
    await store.async_save(_installation("UADMIN", "xoxb-1", user_token="xoxp-admin"))
    await store.async_save(_installation(
        "UADMIN", "xoxe.xoxb-2", bot_refresh_token="xoxe-1-r", bot_token_expires_at=int(clock.now.timestamp()) + 43200,
    ))
    [row] = await database.list(SlackInstallation.select())
    assert (row.bot_token, row.bot_refresh_token, row.user_token) == ("xoxe.xoxb-2", "xoxe-1-r", "xoxp-admin")
    assert row.bot_token_expires_at == clock.now + timedelta(hours=12)
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found.bot_token_expires_at == int(clock.now.timestamp()) + 43200 and found.bot_scopes == ["chat:write"]


async def test_the_newest_installation_wins_and_a_user_lookup_gets_the_newest_bot(store, clock):
    await store.async_save(_installation("UADMIN1", "xoxb-old", user_token="xoxp-one"))
    clock.advance(minutes=1)
    await store.async_save(_installation("UADMIN2", "xoxb-new"))
    assert (await store.async_find_installation(enterprise_id=None, team_id="T1")).bot_token == "xoxb-new"
    mine = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="UADMIN1")
    assert (mine.user_token, mine.bot_token) == ("xoxp-one", "xoxb-new")
    assert (await store.async_find_bot(enterprise_id=None, team_id="T1")).bot_token == "xoxb-new"
    assert await store.async_find_installation(enterprise_id=None, team_id="T2") is None


async def test_a_revoked_user_token_is_forgotten_and_a_revoked_bot_deactivates_the_workspace(store):
    await store.async_save(_installation("UADMIN", "xoxb-1", user_token="xoxp-admin"))
    await store.async_delete_installation(enterprise_id=None, team_id="T1", user_id="UADMIN")
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert (found.bot_token, found.user_token) == ("xoxb-1", None)
    await store.async_delete_bot(enterprise_id=None, team_id="T1")
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_an_org_wide_install_is_found_by_its_enterprise(store):
    await store.async_save(Installation(
        enterprise_id="E1", enterprise_name="Grid", team_id=None, user_id="UADMIN", bot_token="xoxb-org",
        bot_id="B1", bot_user_id="UBOT", is_enterprise_install=True,
    ))
    found = await store.async_find_installation(enterprise_id="E1", team_id=None, is_enterprise_install=True)
    assert (found.bot_token, found.is_enterprise_install) == ("xoxb-org", True)
