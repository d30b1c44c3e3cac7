"""Signing in to the web view: one-time sign-in links and server-side sessions.

A sign-in link (``/signin/{token}``) is a personal link (``incidents.personal_links``): single
use, short-lived, stored hashed. Opening it changes nothing (mail scanners open every link); the
page's button POSTs, which uses the link up and starts a session. A session id is 32 random
bytes, only its SHA-256 is stored, it expires, and it can be revoked (signing out, or
``ackbot sessions revoke``). Each sign-in makes a new session id, so a session id planted in a
browser before sign-in is never the one that gets signed in (no session fixation).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.action_tokens import MAX_TOKEN_LENGTH, TOKEN_BYTES, hash_token
from incidents.people import stale_last_use, user_with_email
from incidents.personal_links import find, mint, use_up
from incidents.push_links import UnknownPerson
from storage.database import database, write_transaction
from storage.fields import utcnow
from storage.models import TeamMember, User, WebSession

SIGN_IN = "web-sign-in"

__all__ = ["LinkState", "UnknownPerson", "Viewer", "WebSessions"]


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, with what decides what they may see."""

    user_id: int
    handle: str
    name: str
    is_admin: bool
    time_zone: str
    team_ids: frozenset[int]


@dataclass(frozen=True)
class LinkState:
    """What a sign-in link offers: ``valid`` (then ``person`` is set) or ``invalid`` (unknown,
    expired and used look the same)."""

    state: str
    person: str | None = None


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    viewer: Viewer


def _active_user(handle: str) -> User:
    user = User.get_or_none((User.handle == handle) & User.is_active)
    if user is None:
        raise UnknownPerson(f"no active person with the handle {handle!r}")
    return user


def _issue(user_id: int, ttl: timedelta, now: datetime) -> str:
    with write_transaction():
        return mint(user_id, SIGN_IN, now + ttl, now)


def _issue_for_handle(handle: str, ttl: timedelta, now: datetime) -> tuple[str, str]:
    user = _active_user(handle)
    return _issue(user.id, ttl, now), user.name


def _issue_for_email(email: str, ttl: timedelta, now: datetime) -> tuple[str, str] | None:
    user = user_with_email(email)
    if user is None or not user.email:
        return None
    return _issue(user.id, ttl, now), user.email


def _link_state(token: str, now: datetime) -> LinkState:
    link = find(token, SIGN_IN)
    if link is None or link.used or link.expires_at <= now:
        return LinkState("invalid")
    user = User.get_or_none((User.id == link.user_id) & User.is_active)
    return LinkState("valid", user.name) if user else LinkState("invalid")


def _viewer_of(user: User) -> Viewer:
    teams = TeamMember.select(TeamMember.team).where(TeamMember.user == user.id)
    return Viewer(
        user.id, user.handle, user.name, user.is_admin, user.time_zone or "UTC",
        frozenset(member.team_id for member in teams),
    )


def _sign_in(token: str, session_ttl: timedelta, now: datetime) -> SignedIn | None:
    with write_transaction():
        link = find(token, SIGN_IN)
        if link is None or link.used or link.expires_at <= now:
            return None
        user = User.get_or_none((User.id == link.user_id) & User.is_active)
        if user is None or not use_up(link, now):
            return None
        session_id = secrets.token_urlsafe(TOKEN_BYTES)
        WebSession.create(
            session_hash=hash_token(session_id), user=user.id, created_at=now, expires_at=now + session_ttl,
            last_seen_at=now,
        )
    return SignedIn(session_id, _viewer_of(user))


def _session(session_id: str, now: datetime) -> WebSession | None:
    if not session_id or len(session_id) > MAX_TOKEN_LENGTH:
        return None
    session = WebSession.get_or_none(WebSession.session_hash == hash_token(session_id))
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        return None
    return session


def _viewer(session_id: str, now: datetime) -> Viewer | None:
    session = _session(session_id, now)
    if session is None:
        return None
    user = User.get_or_none((User.id == session.user_id) & User.is_active)
    if user is None:
        return None
    if stale_last_use(session.last_seen_at, now):
        with write_transaction():
            WebSession.update(last_seen_at=now).where(WebSession.id == session.id).execute()
    return _viewer_of(user)


def _sign_out(session_id: str, now: datetime) -> None:
    session = _session(session_id, now)
    if session is not None:
        with write_transaction():
            WebSession.update(revoked_at=now).where(WebSession.id == session.id).execute()


def _revoke(handle: str, now: datetime) -> int:
    user = _active_user(handle)
    with write_transaction():
        return WebSession.update(revoked_at=now).where(
            (WebSession.user == user.id) & WebSession.revoked_at.is_null() & (WebSession.expires_at > now)
        ).execute()


@dataclass(frozen=True)
class WebSessions:
    """Sign-in links and sessions of the web view. ``public_url`` is where links point."""

    public_url: str
    link_ttl: timedelta
    session_ttl: timedelta
    clock: Callable[[], datetime] = utcnow

    def link_url(self, token: str) -> str:
        return f"{self.public_url}/signin/{token}"

    async def issue_link(self, handle: str) -> tuple[str, str]:
        """(a new sign-in link, the person's name) for the person with ``handle`` (the CLI).
        Raises UnknownPerson."""
        token, name = await database.run(_issue_for_handle, handle, self.link_ttl, self.clock())
        return self.link_url(token), name

    async def issue_link_for_user(self, user_id: int) -> str:
        """A new sign-in link for a person a chat surface already knows."""
        return self.link_url(await database.run(_issue, user_id, self.link_ttl, self.clock()))

    async def issue_link_for_email(self, email: str) -> tuple[str, str] | None:
        """(a new sign-in link, the address to mail it to) for the active person with ``email``,
        or None: the sign-in form mails it, and answers the same either way."""
        issued = await database.run(_issue_for_email, email, self.link_ttl, self.clock())
        return (self.link_url(issued[0]), issued[1]) if issued else None

    async def link_state(self, token: str) -> LinkState:
        """What the sign-in link ``token`` offers; changes nothing."""
        return await database.run(_link_state, token, self.clock())

    async def sign_in(self, token: str) -> SignedIn | None:
        """Use the link once and start a new session; None when the link does not work (of
        concurrent uses, one succeeds)."""
        return await database.run(_sign_in, token, self.session_ttl, self.clock())

    async def viewer(self, session_id: str) -> Viewer | None:
        """The person signed in with ``session_id``; None for an unknown, expired or revoked one."""
        return await database.run(_viewer, session_id, self.clock())

    async def sign_out(self, session_id: str) -> None:
        await database.run(_sign_out, session_id, self.clock())

    async def revoke(self, handle: str) -> int:
        """End every session of the person with ``handle``; returns how many. Raises UnknownPerson."""
        return await database.run(_revoke, handle, self.clock())
