"""One-time credentials for one person about no incident (``PersonalLinkToken``): the push
subscribe link and its registration credentials, the web view's sign-in links. 32 random bytes;
only their SHA-256 is stored. Synchronous: run inside ``database.run``."""
from __future__ import annotations

import secrets
from datetime import datetime

from incidents.action_tokens import MAX_TOKEN_LENGTH, TOKEN_BYTES, hash_token
from storage.database import lock_rows
from storage.models import PersonalLinkToken


def mint(user_id: int, purpose: str, expires_at: datetime, now: datetime, parent: int | None = None) -> str:
    """A new credential for ``purpose``; returns the token, which is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    PersonalLinkToken.create(
        token_hash=hash_token(token), user=user_id, purpose=purpose, parent=parent, expires_at=expires_at, created_at=now,
    )
    return token


def find(token: str, purpose: str) -> PersonalLinkToken | None:
    """The credential ``token`` for ``purpose``, locked for the rest of the write transaction."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return lock_rows(
        PersonalLinkToken.select().where(
            (PersonalLinkToken.token_hash == hash_token(token)) & (PersonalLinkToken.purpose == purpose)
        )
    ).first()


def use_up(link: PersonalLinkToken, now: datetime) -> bool:
    """Mark ``link`` used; False when another use got there first."""
    return PersonalLinkToken.update(used=True, used_at=now).where(
        (PersonalLinkToken.id == link.id) & (PersonalLinkToken.used == False)  # noqa: E712 (SQL, not Python)
    ).execute() == 1
