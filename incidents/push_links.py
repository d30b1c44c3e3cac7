"""Personal push subscribe links: how a signed-in person's browser comes to receive pages.

Ackbot sends the person a one-time link (``/push/p/{token}``) on a channel they already have, or
an operator prints one with ``ackbot push-link``. Opening it changes nothing the link grants:
each visit gets its own short-lived registration credential, so a link scanner that fetches the
page registers nothing. The browser then registers its subscription with that credential, which
uses up the link and the credential at once: one link, one browser.

Tokens are personal links (``incidents.personal_links``). ``PushLinks`` is the async API the
push page and the CLI use; ``SubscribeLinks`` is what chat surfaces hold while push is on.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.personal_links import find, mint, use_up
from incidents.push_subscriptions import SubscriptionInfo, keep_for, save_subscription
from storage.database import database, lock_rows, write_transaction
from storage.fields import utcnow
from storage.models import PersonalLinkToken, User

SUBSCRIBE = "push-subscribe"
REGISTER = "push-register"
VISIT_TTL = timedelta(hours=1)


class UnknownPerson(Exception):
    """No active person has that handle."""


def subscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/push/p/{token}"


@dataclass(frozen=True)
class IssuedLink:
    url: str
    person: str
    expires_at: datetime


def _issue(handle: str, public_url: str, ttl: timedelta, now: datetime) -> IssuedLink:
    user = User.get_or_none((User.handle == handle) & User.is_active)
    if user is None:
        raise UnknownPerson(f"no active person with the handle {handle!r}")
    return IssuedLink(_issue_for_user(user.id, public_url, ttl, now), user.name, now + ttl)


def _issue_for_user(user_id: int, public_url: str, ttl: timedelta, now: datetime) -> str:
    with write_transaction():
        return subscribe_url(public_url, mint(user_id, SUBSCRIBE, now + ttl, now))


@dataclass(frozen=True)
class SubscribeLinks:
    """Where push subscribe links point and how long they work; chat surfaces hold one while
    push is on and send ``issue(...)`` to a person who asks for push."""

    public_url: str
    ttl: timedelta

    async def issue(self, user_id: int, now: datetime) -> str:
        """A new one-time subscribe link for the person ``user_id``, working for ``ttl`` from
        ``now``: what chat surfaces send a person who asks for push (``/incident push`` in Slack,
        ``push`` to Teams)."""
        return await database.run(_issue_for_user, user_id, self.public_url, self.ttl, now)


@dataclass(frozen=True)
class Visit:
    """One opening of a subscribe link. ``state`` is ``valid`` (then ``person`` and
    ``credential`` are set), ``used`` or ``invalid`` (unknown and expired look the same)."""

    state: str
    person: str | None = None
    credential: str | None = None


def _open(token: str, now: datetime, mint_credential: bool) -> Visit:
    with write_transaction():
        link = find(token, SUBSCRIBE)
        if link is None or link.expires_at <= now:
            return Visit("invalid")
        if link.used:
            return Visit("used")
        person = User.get_by_id(link.user_id).name
        if not mint_credential:
            return Visit("valid", person)
        PersonalLinkToken.delete().where(
            (PersonalLinkToken.user == link.user_id) & (PersonalLinkToken.purpose == REGISTER)
            & (PersonalLinkToken.expires_at <= now)
        ).execute()
        credential = mint(link.user_id, REGISTER, min(link.expires_at, now + VISIT_TTL), now, parent=link.id)
    return Visit("valid", person, credential)


def _register(credential: str, info: SubscriptionInfo, user_agent: str | None, now: datetime) -> str | None:
    with write_transaction():
        visit = find(credential, REGISTER)
        if visit is None or visit.used or visit.expires_at <= now:
            return None
        link = lock_rows(PersonalLinkToken.select().where(PersonalLinkToken.id == visit.parent_id)).first()
        if link is None or link.expires_at <= now:
            return None
        if not use_up(link, now):
            return None
        PersonalLinkToken.update(used=True, used_at=now).where(PersonalLinkToken.id == visit.id).execute()
        save_subscription(visit.user_id, info, user_agent, now)
        return User.get_by_id(visit.user_id).name


class PushLinks:
    """Issuing, opening and using subscribe links."""

    def __init__(self, clock: Callable[[], datetime] = utcnow):
        self.clock = clock

    async def issue_for_handle(self, handle: str, public_url: str, ttl: timedelta) -> IssuedLink:
        """A new one-time subscribe link for the person with ``handle`` (``ackbot push-link``),
        working for ``ttl``. Raises UnknownPerson."""
        return await database.run(_issue, handle, public_url, ttl, self.clock())

    async def open(self, token: str, mint_credential: bool = True) -> Visit:
        """What the subscribe link ``token`` offers, with a fresh registration credential for
        this visit (``mint_credential=False``: look only, e.g. for HEAD). Never uses the link up."""
        return await database.run(_open, token, self.clock(), mint_credential)

    async def register(self, credential: str, info: SubscriptionInfo, user_agent: str | None) -> str | None:
        """Keep the browser subscription ``info`` for the person whose link this visit's
        ``credential`` came from, using up the link; returns their name, or None when the
        credential is unknown, expired or its link already used (of concurrent registrations,
        one succeeds)."""
        return await database.run(_register, credential, info, user_agent, self.clock())

    async def keep_for_signed_in(self, user_id: int, info: SubscriptionInfo, user_agent: str | None) -> None:
        """Keep the browser subscription ``info`` for ``user_id``, signed in to the web view: the
        session vouches for them, so no link is used."""
        await database.run(keep_for, user_id, info, user_agent, self.clock())
