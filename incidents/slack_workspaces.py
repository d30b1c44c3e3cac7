"""Slack workspace installations: the rows behind Bolt's installation store and the bot tokens the
Slack channel sends with. Synchronous: run inside ``database.run``.

Rules:
- one row per (app, workspace, installer); saving again for the same installer updates it in place
  (a reinstall or a token rotation), another installer adds a row; the newest active row wins;
- uninstalling or revoking the bot deactivates the workspace's rows, clears their tokens and
  switches off Slack pages to its people; a new installation switches them back on;
- a revoked user token is cleared where it is kept (installation rows, the person's link).

``SlackWorkspaces`` is the async API the Slack surface uses. It answers the bot lookup Bolt makes
on every request from memory for ``CACHE_SECONDS``: a workspace uninstalled or revoked through
this process stops working at once, one uninstalled through another instance within that bound.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from incidents.short_cache import ShortCache
from storage.database import database, write_transaction
from storage.fields import utcnow
from storage.models import SlackConnection, SlackInstallation, SlackOAuthState

BOT_FIELDS = ("bot_token", "bot_refresh_token", "bot_token_expires_at", "bot_id", "bot_user_id", "bot_scopes")
USER_FIELDS = ("user_token", "user_refresh_token", "user_token_expires_at", "user_scopes")
WORKSPACE_FIELDS = (
    "client_id", "app_id", "enterprise_id", "enterprise_name", "team_id", "team_name", "is_enterprise_install",
    "user_id", "token_type",
)
ALL_FIELDS = WORKSPACE_FIELDS + BOT_FIELDS + USER_FIELDS


# How long a bot lookup is answered from memory (see the module's docstring).
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class BotCredentials:
    """The bot token of a workspace installation, and what rotating it needs."""

    installation_id: int
    team_id: str
    token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None


def _workspace(client_id: str, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool):
    """Rows of one workspace, or of one organisation for an org-wide install (Slack team and
    enterprise ids are globally unique)."""
    condition = (SlackInstallation.client_id == client_id) & SlackInstallation.is_active
    if is_enterprise_install or team_id is None:
        return condition & (SlackInstallation.enterprise_id == enterprise_id) & SlackInstallation.is_enterprise_install
    return condition & (SlackInstallation.team_id == team_id)


def _newest(query):
    return query.order_by(SlackInstallation.installed_at.desc(), SlackInstallation.id.desc()).first()


def _newest_bot(workspace):
    """The newest installation of ``workspace`` that holds a bot token."""
    return _newest(SlackInstallation.select().where(workspace & SlackInstallation.bot_token.is_null(False)))


def _values(row: SlackInstallation) -> dict:
    values = {name: getattr(row, name) for name in ALL_FIELDS}
    values["installed_at"] = row.installed_at
    return values


def save_installation(values: dict, now: datetime) -> None:
    """Store an installation (``values`` holds ``ALL_FIELDS``). A save without a user token keeps
    the one already stored for that installer: Bolt saves rotated bot tokens that way."""
    with write_transaction():
        existing = SlackInstallation.get_or_none(
            (SlackInstallation.client_id == values["client_id"])
            & _same(SlackInstallation.enterprise_id, values["enterprise_id"])
            & _same(SlackInstallation.team_id, values["team_id"])
            & _same(SlackInstallation.user_id, values["user_id"])
        )
        changes = {name: values[name] for name in ALL_FIELDS}
        if values.get("user_token") is None and existing is not None:
            for name in USER_FIELDS:
                changes.pop(name)
        if existing is None:
            SlackInstallation.create(**changes, is_active=True, installed_at=now)
        else:
            reinstalled = not existing.is_active
            changes.update(is_active=True, **({"installed_at": now} if reinstalled else {}))
            SlackInstallation.update(changes).where(SlackInstallation.id == existing.id).execute()
        if values.get("bot_token") and values.get("team_id"):
            SlackConnection.update(is_active=True, updated_at=now).where(
                SlackConnection.slack_team_id == values["team_id"]
            ).execute()


def _same(column, value):
    return column.is_null() if value is None else column == value


def find_installation(
    client_id: str, enterprise_id: str | None, team_id: str | None, user_id: str | None, is_enterprise_install: bool
) -> dict | None:
    """The newest active installation of the workspace (by ``user_id`` when given), with the bot
    fields of the newest installation that has a bot token."""
    workspace = _workspace(client_id, enterprise_id, team_id, is_enterprise_install)
    query = SlackInstallation.select().where(workspace)
    row = _newest(query.where(SlackInstallation.user_id == user_id) if user_id else query)
    if row is None:
        return None
    values = _values(row)
    if user_id is not None or row.bot_token is None:
        bot = _newest_bot(workspace)
        if bot is not None:
            values.update({name: getattr(bot, name) for name in BOT_FIELDS})
    return values


def find_bot(client_id: str, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool) -> dict | None:
    workspace = _workspace(client_id, enterprise_id, team_id, is_enterprise_install)
    row = _newest_bot(workspace)
    return _values(row) if row is not None else None


def save_bot(client_id: str, values: dict) -> None:
    """Store a rotated bot token on the newest installation of its workspace."""
    with write_transaction():
        workspace = _workspace(client_id, values["enterprise_id"], values["team_id"], values["is_enterprise_install"])
        row = _newest_bot(workspace)
        if row is not None:
            changes = {name: values[name] for name in BOT_FIELDS}
            SlackInstallation.update(changes).where(SlackInstallation.id == row.id).execute()


def deactivate_bot(client_id: str, enterprise_id: str | None, team_id: str | None, now: datetime) -> int:
    """The workspace's bot is gone (uninstalled, token revoked): deactivate its installations and
    stop paging its people on Slack. Returns the installations deactivated."""
    with write_transaction():
        workspace = _workspace(client_id, enterprise_id, team_id, False)
        rows = [row.id for row in SlackInstallation.select(SlackInstallation.id).where(workspace)]
        cleared = {name: None for name in BOT_FIELDS + USER_FIELDS}
        SlackInstallation.update(is_active=False, **cleared).where(SlackInstallation.id.in_(rows)).execute()
        if team_id is not None:
            SlackConnection.update(is_active=False, updated_at=now).where(SlackConnection.slack_team_id == team_id).execute()
        return len(rows)


def revoke_user_token(client_id: str, enterprise_id: str | None, team_id: str | None, user_id: str, now: datetime) -> None:
    """A user's token was revoked: forget it wherever it is kept; the person stays linked."""
    with write_transaction():
        workspace = _workspace(client_id, enterprise_id, team_id, False)
        cleared = {name: None for name in USER_FIELDS}
        SlackInstallation.update(cleared).where(workspace & (SlackInstallation.user_id == user_id)).execute()
        SlackConnection.update(access_token=None, refresh_token=None, token_expires_at=None, updated_at=now).where(
            SlackConnection.slack_user_id == user_id
        ).execute()


def bot_credentials(client_id: str, team_id: str) -> BotCredentials | None:
    """The bot token to message people of the Slack workspace ``team_id`` with, if it is installed."""
    workspace = _workspace(client_id, None, team_id, False)
    row = _newest_bot(workspace)
    if row is None:
        return None
    return BotCredentials(row.id, team_id, row.bot_token, row.bot_refresh_token, row.bot_token_expires_at)


def save_rotated_bot_token(credentials: BotCredentials) -> None:
    """Store a refreshed bot token on the installation it was refreshed for."""
    with write_transaction():
        SlackInstallation.update(
            bot_token=credentials.token, bot_refresh_token=credentials.refresh_token,
            bot_token_expires_at=credentials.expires_at,
        ).where(SlackInstallation.id == credentials.installation_id).execute()


def issue_oauth_state(state: str, expires_at: datetime, now: datetime) -> None:
    """Remember a new OAuth ``state`` until ``expires_at``; expired ones are forgotten."""
    with write_transaction():
        SlackOAuthState.delete().where(SlackOAuthState.expires_at <= now).execute()
        SlackOAuthState.create(state=state, expires_at=expires_at)


def consume_oauth_state(state: str, now: datetime) -> bool:
    """Whether ``state`` was issued and has not expired; it can be consumed once."""
    with write_transaction():
        deleted = SlackOAuthState.delete().where(
            (SlackOAuthState.state == state) & (SlackOAuthState.expires_at > now)
        ).execute()
    return deleted == 1


class StoredBotTokens:
    """The Slack channel's token store: bot tokens of the app ``client_id``'s installations."""

    def __init__(self, client_id: str):
        self.client_id = client_id

    async def for_team(self, team_id: str) -> BotCredentials | None:
        return await database.run(bot_credentials, self.client_id, team_id)

    async def rotated(
        self, old: BotCredentials, token: str, refresh_token: str | None, expires_at: datetime | None
    ) -> None:
        rotated = replace(old, token=token, refresh_token=refresh_token or old.refresh_token, expires_at=expires_at)
        await database.run(save_rotated_bot_token, rotated)


class SlackWorkspaces:
    """The installations of the Slack app ``client_id``, for Bolt's installation store.
    Installation values are dicts of ``ALL_FIELDS`` (``client_id`` is filled in here)."""

    def __init__(self, client_id: str, clock: Callable[[], datetime] = utcnow, cache_seconds: float = CACHE_SECONDS):
        self.client_id = client_id
        self.clock = clock
        self._bots: ShortCache[dict] = ShortCache(cache_seconds)

    async def _write(self, fn, *args):
        """Run the write ``fn``; bot lookups read before it commits are forgotten (both before
        and after: a lookup may be under way either side of the commit)."""
        self._bots.clear()
        try:
            return await database.run(fn, *args)
        finally:
            self._bots.clear()

    async def save_installation(self, values: dict) -> None:
        await self._write(save_installation, {**values, "client_id": self.client_id}, self.clock())

    async def save_bot(self, values: dict) -> None:
        await self._write(save_bot, self.client_id, values)

    async def find_installation(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None, is_enterprise_install: bool
    ) -> dict | None:
        return await database.run(find_installation, self.client_id, enterprise_id, team_id, user_id, is_enterprise_install)

    async def find_bot(self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool) -> dict | None:
        """The newest installation with a bot token (a copy: callers may change it)."""
        values = await self._bots.get(
            (enterprise_id, team_id, is_enterprise_install),
            lambda: database.run(find_bot, self.client_id, enterprise_id, team_id, is_enterprise_install),
        )
        if values is None:
            return None
        return dict(values)

    async def deactivate_bot(self, enterprise_id: str | None, team_id: str | None) -> int:
        return await self._write(deactivate_bot, self.client_id, enterprise_id, team_id, self.clock())

    async def revoke_user_token(self, enterprise_id: str | None, team_id: str | None, user_id: str) -> None:
        await self._write(revoke_user_token, self.client_id, enterprise_id, team_id, user_id, self.clock())



class SlackOAuthStates:
    """The states of OAuth flows under way: single use, expiring."""

    def __init__(self, clock: Callable[[], datetime] = utcnow):
        self.clock = clock

    async def issue(self, state: str, lifetime: timedelta) -> None:
        now = self.clock()
        await database.run(issue_oauth_state, state, now + lifetime, now)

    async def consume(self, state: str) -> bool:
        return await database.run(consume_oauth_state, state, self.clock())
