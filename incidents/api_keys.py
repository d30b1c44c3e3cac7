"""Intake API keys. A key is shown once, when created; the database keeps only its SHA-256 and
a short prefix that lets people tell keys apart."""
from __future__ import annotations

import re
import secrets

from peewee import IntegrityError

from incidents.action_tokens import hash_token
from incidents.people import LAST_USED_RESOLUTION, stale_last_use
from storage.database import database
from storage.fields import utcnow
from storage.models import ApiKey

KEY_PREFIX = "ackbot_"
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_KEY_FORMAT = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
_NAME_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SHOWN_PREFIX_LENGTH = 12


class ApiKeyError(Exception):
    """An API key cannot be created as asked."""


async def create_api_key(name: str) -> str:
    """Create a key called ``name`` (1-100 letters, digits, '-', '_' or '.', starting with a
    letter or digit) and return it in plain text: this is the only time it is available.
    Raises ApiKeyError for a bad or already used name, revoked keys' names included."""
    if not isinstance(name, str) or not _NAME_FORMAT.fullmatch(name):
        raise ApiKeyError(
            "an API key name is 1 to 100 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        await database.run(
            ApiKey.create, name=name, key_hash=hash_token(key), prefix=key[:_SHOWN_PREFIX_LENGTH]
        )
    except IntegrityError:
        raise ApiKeyError(f"an API key named {name} already exists") from None
    return key


async def authenticate(presented: str | None) -> ApiKey | None:
    """The live ApiKey whose plain text is ``presented``, or None when it is missing, malformed,
    unknown or revoked. Records the use in ``last_used_at``, at most once a minute per key."""
    if not isinstance(presented, str) or not _KEY_FORMAT.fullmatch(presented):
        return None
    return await database.run(_find_live_key, hash_token(presented))


def _find_live_key(key_hash: str) -> ApiKey | None:
    api_key = ApiKey.get_or_none(ApiKey.key_hash == key_hash)
    if api_key is None or api_key.revoked_at is not None:
        return None
    now = utcnow()
    stale_before = now - LAST_USED_RESOLUTION
    if stale_last_use(api_key.last_used_at, now):
        # The condition is repeated in SQL so instances racing on the same key write once.
        ApiKey.update(last_used_at=now).where(
            (ApiKey.id == api_key.id)
            & (ApiKey.last_used_at.is_null() | (ApiKey.last_used_at < stale_before))
        ).execute()
        api_key.last_used_at = now
    return api_key


async def revoke_api_key(name: str) -> bool:
    """Revoke the key called ``name``; False when there is no such key or it was already revoked."""

    def revoke() -> int:
        return (
            ApiKey.update(revoked_at=utcnow())
            .where((ApiKey.name == name) & ApiKey.revoked_at.is_null())
            .execute()
        )

    return await database.run(revoke) > 0


async def list_api_keys() -> list[ApiKey]:
    """Every key, revoked ones included, by name."""
    return await database.run(lambda: list(ApiKey.select().order_by(ApiKey.name)))
