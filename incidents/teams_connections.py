"""Who is who in Teams: the person behind a Teams account (``TeamsConnection``, with the
conversation reference that lets the bot page them) and the team channels the bot was added to
(``TeamsChannelReference``).

A Teams account is linked to the Ackbot user it already belonged to, or else to the active user
with the same email (the address or UPN Teams reports for the account). An account that
matches nobody is not stored: every later message from it tries again, so once an admin adds
the person, ``link`` (or any command) connects them. Clicks and commands are attributed by the
account's AAD object id.

``TeamsStore`` is what the Teams surface reads and writes; its methods run their queries
through ``database.run`` and take the time from its clock. Who is behind an account is answered
from memory for ``CACHE_SECONDS`` (every click asks): a connection made or ended through this
store counts at once; a person deactivated by ``ackbot directory apply`` or another instance,
within ``CACHE_SECONDS``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incidents.people import stale_last_use, user_with_email
from incidents.short_cache import ShortCache
from storage.database import database, write_transaction
from storage.fields import utcnow
from storage.models import TeamsChannelReference, TeamsConnection, User

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class TeamsIdentity:
    """A Teams account as the Bot Framework describes it. ``email`` is the address or UPN from
    the member lookup, when it answered."""

    teams_user_id: str
    tenant_id: str
    aad_object_id: str | None = None
    email: str | None = None


class TeamsStore:
    """The Teams accounts and team channels the bot knows, for the Teams surface."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, cache_seconds: float = CACHE_SECONDS):
        self.clock = clock
        self._people: ShortCache[User] = ShortCache(cache_seconds)

    async def connect_person(self, identity: TeamsIdentity, reference: dict) -> User | None:
        """Store or refresh the account's connection and conversation reference, active again;
        returns the linked user, or None when no active user matches (then nothing is stored)."""
        self._people.clear()
        try:
            return await database.run(_connect_person, identity, reference, self.clock())
        finally:
            self._people.clear()

    async def disconnect_person(self, teams_user_id: str) -> bool:
        """The app was removed from the person's Teams: stop paging them there. True when a
        connection was active."""
        self._people.clear()
        try:
            return await database.run(_disconnect_person, teams_user_id, self.clock())
        finally:
            self._people.clear()

    async def person_for(self, aad_object_id: str | None, teams_user_id: str) -> User | None:
        """The active user behind an active connection, found by the AAD object id (the Teams
        user id when the activity has none); marks the connection used (at most once a minute)."""
        return await self._people.get(
            (aad_object_id, teams_user_id),
            lambda: database.run(_person_for, aad_object_id, teams_user_id, self.clock()),
        )

    async def store_user_token(self, teams_user_id: str, token: str, expires_at: datetime | None) -> bool:
        """Keep the OAuth token the person signed in with (encrypted at rest). True when the
        account has a connection to keep it on."""
        return await database.run(_store_user_token, teams_user_id, token, expires_at, self.clock())

    async def save_team_channel(self, conversation_id: str, tenant_id: str, name: str | None, reference: dict) -> None:
        """The bot was added to a team: keep the channel's reference for team posts."""
        await database.run(_save_team_channel, conversation_id, tenant_id, name, reference)

    async def remove_team_channel(self, conversation_id: str) -> bool:
        """The bot was removed from a team: stop using its channel."""
        return await database.run(_remove_team_channel, conversation_id)


def _connect_person(identity: TeamsIdentity, reference: dict, now: datetime) -> User | None:
    with write_transaction():
        existing = TeamsConnection.get_or_none(TeamsConnection.teams_user_id == identity.teams_user_id)
        user = _active_user(existing.user_id) if existing else None
        if user is None and identity.email:
            user = user_with_email(identity.email)
        if user is None:
            return None
        row = existing or TeamsConnection.get_or_none(TeamsConnection.user == user.id) or TeamsConnection(created_at=now)
        if row.id is not None:  # a user has one Teams connection: this account's replaces any other
            TeamsConnection.delete().where((TeamsConnection.user == user.id) & (TeamsConnection.id != row.id)).execute()
        row.user = user.id
        row.teams_user_id = identity.teams_user_id
        row.teams_tenant_id = identity.tenant_id
        row.aad_object_id = identity.aad_object_id or row.aad_object_id
        row.teams_email = identity.email or row.teams_email
        row.conversation_reference = reference
        row.is_active = True
        row.updated_at = now
        row.save()
    return user


def _active_user(user_id: int) -> User | None:
    return User.get_or_none(User.id == user_id, User.is_active == True)  # noqa: E712


def _disconnect_person(teams_user_id: str, now: datetime) -> bool:
    with write_transaction():
        changed = TeamsConnection.update(is_active=False, updated_at=now).where(
            (TeamsConnection.teams_user_id == teams_user_id) & TeamsConnection.is_active
        ).execute()
    return changed > 0


def _person_for(aad_object_id: str | None, teams_user_id: str, now: datetime) -> User | None:
    key = (TeamsConnection.aad_object_id == aad_object_id) if aad_object_id else (
        TeamsConnection.teams_user_id == teams_user_id)
    connection = TeamsConnection.select().where(key & TeamsConnection.is_active).order_by(TeamsConnection.id).first()
    user = _active_user(connection.user_id) if connection else None
    if user is not None and stale_last_use(connection.last_used_at, now):
        with write_transaction():
            TeamsConnection.update(last_used_at=now).where(TeamsConnection.id == connection.id).execute()
    return user


def _store_user_token(teams_user_id: str, token: str, expires_at: datetime | None, now: datetime) -> bool:
    with write_transaction():
        changed = TeamsConnection.update(access_token=token, token_expires_at=expires_at, updated_at=now).where(
            TeamsConnection.teams_user_id == teams_user_id
        ).execute()
    return changed > 0


def _save_team_channel(conversation_id: str, tenant_id: str, name: str | None, reference: dict) -> None:
    with write_transaction():
        row = TeamsChannelReference.get_or_none(TeamsChannelReference.conversation_id == conversation_id)
        row = row or TeamsChannelReference(conversation_id=conversation_id)
        row.teams_tenant_id = tenant_id
        row.name = name or row.name
        row.conversation_reference = reference
        row.is_active = True
        row.save()


def _remove_team_channel(conversation_id: str) -> bool:
    with write_transaction():
        changed = TeamsChannelReference.update(is_active=False).where(
            (TeamsChannelReference.conversation_id == conversation_id) & TeamsChannelReference.is_active
        ).execute()
    return changed > 0
