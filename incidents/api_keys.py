"""Intake API keys. A key is shown once, when created; the database keeps only its SHA-256 and
a short prefix that lets people tell keys apart. ``ApiKeys`` is the async API over them.

Every intake request presents its key, so a live key is answered from memory for
``CACHE_SECONDS``, by its hash: a key revoked through the same ``ApiKeys`` fails at once; one
revoked by ``ackbot apikey revoke`` (another process) or on another instance, within
``CACHE_SECONDS``. Unknown and revoked keys are not remembered."""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime

from peewee import JOIN, IntegrityError

from incidents.action_tokens import hash_token
from incidents.people import LAST_USED_RESOLUTION, stale_last_use
from incidents.short_cache import ShortCache
from storage.database import database
from storage.fields import utcnow
from storage.models import ApiKey, Team
from storage.rows import columns_of, from_row

KEY_PREFIX = "ackbot_"
# Generated keys are KEY_PREFIX + token_urlsafe(32) (43 characters). A key a sender already has
# may be kept instead (an OnCall integration token: 25 letters and digits; a PagerDuty routing
# key: 32 hex digits; an Opsgenie key: a UUID); it must be long enough not to be guessed and
# safe in a URL path.
KEY_MIN_LENGTH = 16
KEY_MAX_LENGTH = 128
_KEY_FORMAT = re.compile(rf"[A-Za-z0-9._~-]{{{KEY_MIN_LENGTH},{KEY_MAX_LENGTH}}}")
_NAME_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SERVICE_MAX = 200
# What `apikey list` shows to tell keys apart: for generated keys the prefix and 5 random
# characters; of a kept key, whose every character is secret, only 4.
_SHOWN_PREFIX_LENGTH = 12
_SHOWN_KEPT_LENGTH = 4
CACHE_SECONDS = 5.0


class ApiKeyError(Exception):
    """An API key cannot be created as asked."""


class ApiKeys:
    """Creating, checking, listing and revoking intake API keys."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, cache_seconds: float = CACHE_SECONDS):
        self.clock = clock
        self._live: ShortCache[ApiKey] = ShortCache(cache_seconds)

    async def create(self, name: str, team: str | None = None, service: str | None = None, key: str | None = None) -> str:
        """Create a key called ``name`` (1-100 letters, digits, '-', '_' or '.', starting with a
        letter or digit) and return it in plain text: this is the only time it is available.

        ``team`` (an existing team's name) and ``service`` bind the alerts sent with the key (see
        ``incidents.routing``). ``key`` keeps a key string a sender already has configured instead of
        generating one: 16-128 letters, digits, '-', '_', '.' or '~'. Raises ApiKeyError for a bad or
        already used name (revoked keys' names included), an unknown team, a bad or taken key."""
        if not isinstance(name, str) or not _NAME_FORMAT.fullmatch(name):
            raise ApiKeyError(
                "an API key name is 1 to 100 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit"
            )
        if key is not None and not _KEY_FORMAT.fullmatch(key):
            raise ApiKeyError(
                f"--key: a kept key is {KEY_MIN_LENGTH} to {KEY_MAX_LENGTH} letters, digits, '-', '_', '.' or '~'"
            )
        service = (service or "").strip() or None
        if service is not None and len(service) > _SERVICE_MAX:
            raise ApiKeyError(f"--service: at most {_SERVICE_MAX} characters")
        plain = key if key is not None else KEY_PREFIX + secrets.token_urlsafe(32)
        shown = plain[:_SHOWN_KEPT_LENGTH] if key is not None else plain[:_SHOWN_PREFIX_LENGTH]
        await database.run(_insert_key, name, plain, shown, team, service)
        return plain

    async def authenticate(self, presented: str | None) -> ApiKey | None:
        """The live ApiKey whose plain text is ``presented``, or None when it is missing,
        malformed, unknown or revoked. Records the use in ``last_used_at``, at most once a minute
        per key (and the cache's few seconds). The ApiKey returned is shared: read it, never change it."""
        if not isinstance(presented, str) or not _KEY_FORMAT.fullmatch(presented):
            return None
        key_hash = hash_token(presented)
        return await self._live.get(key_hash, lambda: database.run(_find_live_key, key_hash, self.clock()))

    async def revoke(self, name: str) -> bool:
        """Revoke the key called ``name``; False when there is no such key or it was already
        revoked."""
        self._live.clear()
        try:
            return await database.run(_revoke, name, self.clock()) > 0
        finally:
            self._live.clear()

    async def all_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, by name; each with ``team_name``, its team's name
        or None."""
        return await database.run(_list_keys)


def _insert_key(name: str, plain: str, shown: str, team_name: str | None, service: str | None) -> None:
    team = Team.get_or_none(Team.name == team_name) if team_name is not None else None
    if team_name is not None and team is None:
        raise ApiKeyError(f"--team: no team named {team_name!r} (apply the people file first)")
    key_hash = hash_token(plain)
    if ApiKey.select().where(ApiKey.key_hash == key_hash).exists():
        raise ApiKeyError("--key: that key is already in use by another API key")
    try:
        ApiKey.create(name=name, key_hash=key_hash, prefix=shown, team=team, service=service)
    except IntegrityError:
        raise ApiKeyError(f"an API key named {name} already exists") from None


def _find_live_key(key_hash: str, now: datetime) -> ApiKey | None:
    # Hand-written: every intake request reads its key, and peewee's query builder cost more
    # CPU than the read.
    sql = f'SELECT {columns_of(ApiKey)} FROM "{ApiKey._meta.table_name}" WHERE "key_hash" = {database.param}'
    row = database.execute_sql(sql, (key_hash,)).fetchone()
    api_key = from_row(ApiKey, row)[0] if row else None
    if api_key is None or api_key.revoked_at is not None:
        return None
    stale_before = now - LAST_USED_RESOLUTION
    if stale_last_use(api_key.last_used_at, now):
        # The condition is repeated in SQL so instances racing on the same key write once.
        ApiKey.update(last_used_at=now).where(
            (ApiKey.id == api_key.id)
            & (ApiKey.last_used_at.is_null() | (ApiKey.last_used_at < stale_before))
        ).execute()
        api_key.last_used_at = now
    return api_key


def _revoke(name: str, now: datetime) -> int:
    return ApiKey.update(revoked_at=now).where((ApiKey.name == name) & ApiKey.revoked_at.is_null()).execute()


def _list_keys() -> list[ApiKey]:
    query = (
        ApiKey.select(ApiKey, Team.name.alias("team_name"))
        .join(Team, JOIN.LEFT_OUTER, on=(ApiKey.team == Team.id))
        .order_by(ApiKey.name)
        .objects()
    )
    return list(query)
