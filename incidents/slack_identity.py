"""Which Ackbot user a Slack user is: the ``SlackConnection`` link. Synchronous: run inside
``database.run``.

A Slack user is linked to the directory user with the same email (case-insensitive), either
automatically from their Slack profile or through the "link" sign-in, which also keeps their user
token (encrypted). One Slack identity per person: a newer proof replaces an older link.

``SlackIdentities`` is the async API the Slack surface uses. It remembers who a Slack user is
for ``CACHE_SECONDS``: a link made or replaced through this process counts at once; a person
unlinked, deactivated or renamed elsewhere (another instance, ``ackbot directory apply``) is
seen within that bound.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from incidents.people import stale_last_use, user_with_email
from incidents.short_cache import ShortCache
from storage.database import database, write_transaction
from storage.fields import utcnow
from storage.models import SlackConnection, User

# How long a Slack user's link is answered from memory (see the module's docstring).
CACHE_SECONDS = 5.0


def linked_user(slack_user_id: str, now: datetime) -> User | None:
    """The active user linked to ``slack_user_id``, or None."""
    connection = (
        SlackConnection.select(SlackConnection, User)
        .join(User)
        .where((SlackConnection.slack_user_id == slack_user_id) & SlackConnection.is_active & User.is_active)
        .first()
    )
    if connection is None:
        return None
    if stale_last_use(connection.last_used_at, now):
        SlackConnection.update(last_used_at=now).where(SlackConnection.id == connection.id).execute()
    return connection.user


def link_by_email(
    slack_user_id: str,
    slack_team_id: str,
    email: str,
    now: datetime,
    access_token: str | None = None,
    refresh_token: str | None = None,
    token_expires_at: datetime | None = None,
) -> User | None:
    """Link ``slack_user_id`` to the directory user whose email is ``email``; None when nobody has
    it. A link of either side to someone else is replaced."""
    with write_transaction():
        user = user_with_email(email)
        if user is None:
            return None
        SlackConnection.delete().where(
            (SlackConnection.slack_user_id == slack_user_id) & (SlackConnection.user != user.id)
        ).execute()
        values = dict(
            slack_user_id=slack_user_id, slack_team_id=slack_team_id, slack_email=email.strip(), is_active=True,
            last_used_at=now, updated_at=now,
        )
        if access_token is not None:
            values.update(access_token=access_token, refresh_token=refresh_token, token_expires_at=token_expires_at)
        else:  # a token kept for another Slack identity of this person is not theirs any more
            SlackConnection.update(access_token=None, refresh_token=None, token_expires_at=None).where(
                (SlackConnection.user == user.id) & (SlackConnection.slack_user_id != slack_user_id)
            ).execute()
        updated = SlackConnection.update(values).where(SlackConnection.user == user.id).execute()
        if not updated:
            SlackConnection.create(user=user.id, created_at=now, **values)
    return user


class SlackIdentities:
    def __init__(self, clock: Callable[[], datetime] = utcnow, cache_seconds: float = CACHE_SECONDS):
        self.clock = clock
        self._users: ShortCache[User] = ShortCache(cache_seconds)

    async def linked(self, slack_user_id: str) -> User | None:
        """The active user linked to ``slack_user_id``, or None."""
        return await self._users.get(slack_user_id, lambda: database.run(linked_user, slack_user_id, self.clock()))

    async def link_by_email(
        self, slack_user_id: str, slack_team_id: str, email: str, access_token: str | None = None,
        refresh_token: str | None = None, token_expires_at: datetime | None = None,
    ) -> User | None:
        """See ``link_by_email``; links remembered before it are forgotten."""
        self._users.clear()
        try:
            return await database.run(
                link_by_email, slack_user_id, slack_team_id, email, self.clock(), access_token, refresh_token,
                token_expires_at,
            )
        finally:
            self._users.clear()
