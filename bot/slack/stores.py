"""Bolt's installation store and OAuth state store: Bolt's interfaces over
``incidents.slack_workspaces.SlackWorkspaces``, which keeps installations (tokens encrypted;
newest wins, in-place updates on rotation, deactivation on uninstall) and OAuth states (single
use, expiring). Here only Bolt's ``Installation`` and ``Bot`` values are translated.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from incidents.slack_workspaces import SlackOAuthStates, SlackWorkspaces
from storage.fields import utcnow

log = logging.getLogger("ackbot.slack")


def _moment(epoch: int | float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _bot_arguments(values: dict) -> dict:
    """The workspace and bot token fields of a stored installation, as Bolt's Bot and
    Installation take them."""
    return dict(
        app_id=values["app_id"], enterprise_id=values["enterprise_id"], enterprise_name=values["enterprise_name"],
        team_id=values["team_id"], team_name=values["team_name"], bot_token=values["bot_token"],
        bot_id=values["bot_id"], bot_user_id=values["bot_user_id"], bot_scopes=values["bot_scopes"] or "",
        bot_refresh_token=values["bot_refresh_token"], bot_token_expires_at=_epoch(values["bot_token_expires_at"]),
        is_enterprise_install=values["is_enterprise_install"], installed_at=values["installed_at"],
    )


def _scopes(scopes) -> str | None:
    return ",".join(scopes) if scopes else None


class PeeweeInstallationStore(AsyncInstallationStore):
    def __init__(self, client_id: str, clock: Callable[[], datetime] = utcnow):
        self.workspaces = SlackWorkspaces(client_id, clock)
        self.client_id = client_id
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        values = {
            "app_id": installation.app_id,
            "enterprise_id": installation.enterprise_id, "enterprise_name": installation.enterprise_name,
            "team_id": installation.team_id, "team_name": installation.team_name,
            "is_enterprise_install": bool(installation.is_enterprise_install), "user_id": installation.user_id,
            "token_type": installation.token_type,
            "bot_token": installation.bot_token, "bot_refresh_token": installation.bot_refresh_token,
            "bot_token_expires_at": _moment(installation.bot_token_expires_at), "bot_id": installation.bot_id,
            "bot_user_id": installation.bot_user_id, "bot_scopes": _scopes(installation.bot_scopes),
            "user_token": installation.user_token, "user_refresh_token": installation.user_refresh_token,
            "user_token_expires_at": _moment(installation.user_token_expires_at),
            "user_scopes": _scopes(installation.user_scopes),
        }
        await self.workspaces.save_installation(values)

    async def async_save_bot(self, bot: Bot) -> None:
        values = {
            "enterprise_id": bot.enterprise_id, "team_id": bot.team_id,
            "is_enterprise_install": bool(bot.is_enterprise_install), "bot_token": bot.bot_token,
            "bot_refresh_token": bot.bot_refresh_token, "bot_token_expires_at": _moment(bot.bot_token_expires_at),
            "bot_id": bot.bot_id, "bot_user_id": bot.bot_user_id, "bot_scopes": _scopes(bot.bot_scopes),
        }
        await self.workspaces.save_bot(values)

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        values = await self.workspaces.find_installation(enterprise_id, team_id, user_id, bool(is_enterprise_install))
        if values is None:
            return None
        return Installation(
            **_bot_arguments(values), user_id=values["user_id"], user_token=values["user_token"],
            user_scopes=values["user_scopes"] or "", user_refresh_token=values["user_refresh_token"],
            user_token_expires_at=_epoch(values["user_token_expires_at"]), token_type=values["token_type"],
        )

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        values = await self.workspaces.find_bot(enterprise_id, team_id, bool(is_enterprise_install))
        if values is None:
            return None
        return Bot(**_bot_arguments(values))

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        count = await self.workspaces.deactivate_bot(enterprise_id, team_id)
        log.info("Slack workspace %s: %d installation(s) deactivated", team_id or enterprise_id, count)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
    ) -> None:
        if user_id is None:
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        else:
            await self.workspaces.revoke_user_token(enterprise_id, team_id, user_id)


class PeeweeOAuthStateStore(AsyncOAuthStateStore):
    """Single-use OAuth states. ``prefix`` tells the flows sharing the redirect URL apart."""

    def __init__(self, prefix: str, expiration_seconds: int = 600, clock: Callable[[], datetime] = utcnow):
        self.prefix = prefix
        self.expiration = timedelta(seconds=expiration_seconds)
        self.states = SlackOAuthStates(clock)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = f"{self.prefix}.{secrets.token_urlsafe(24)}"
        await self.states.issue(state, self.expiration)
        return state

    async def async_consume(self, state: str) -> bool:
        if not state:
            return False
        return await self.states.consume(state)
