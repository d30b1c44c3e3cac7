"""One-time action tokens behind email and push Acknowledge/Resolve links (OWASP's guidance for
such links): 32 random bytes from a CSPRNG, only their SHA-256 stored, tied to one incident, one
action and the person they were sent to, expiring, single use, void once the incident is resolved.

Synchronous: run inside ``database.run``.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.lifecycle import ActionOutcome, Actor, EngineConfig, transition
from storage.database import lock_rows, write_transaction
from storage.enums import Action, IncidentStatus
from storage.models import Incident, MagicLinkToken, User

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def mint_tokens(wanted, ttl: timedelta, now: datetime) -> list[dict[str, str]]:
    """A fresh token for each action of each ``(incident_id, user_id, channel, actions)`` in
    ``wanted``, in one insert; returns {action: token} for each, in order. Only hashes are kept."""
    minted, rows = [], []
    for incident_id, user_id, channel, actions in wanted:
        tokens = {action: secrets.token_urlsafe(TOKEN_BYTES) for action in actions}
        minted.append(tokens)
        rows += [
            {"token_hash": hash_token(token), "incident": incident_id, "user": user_id, "channel": channel,
             "action": action, "expires_at": now + ttl, "created_at": now}
            for action, token in tokens.items()
        ]
    if rows:
        MagicLinkToken.insert_many(rows).execute()
    return minted


@dataclass(frozen=True)
class TokenView:
    """What a token stands for, as the confirmation page shows it. ``state`` is ``valid``,
    ``used`` (then ``used_at`` and the incident say what happened), ``resolved`` (the incident
    is closed, so the link is void) or ``invalid`` — unknown and expired look the same."""

    state: str
    action: str | None = None
    incident: Incident | None = None
    person: str | None = None
    used_at: datetime | None = None


INVALID = TokenView("invalid")


def _find(token: str, now: datetime, lock: bool = False) -> MagicLinkToken | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    query = MagicLinkToken.select().where(MagicLinkToken.token_hash == hash_token(token))
    row = (lock_rows(query) if lock else query).first()
    if row is None or row.expires_at <= now:
        return None
    return row


def inspect_token(token: str, now: datetime) -> TokenView:
    """Look only: nothing changes, however often it is called."""
    row = _find(token, now)
    if row is None:
        return INVALID
    return _view(row)


def _view(row: MagicLinkToken) -> TokenView:
    incident = Incident.get_by_id(row.incident_id)
    person = User.get_by_id(row.user_id).name
    if row.used:
        return TokenView("used", row.action, incident, person, row.used_at)
    if incident.status == IncidentStatus.RESOLVED:
        return TokenView("resolved", row.action, incident, person)
    return TokenView("valid", row.action, incident, person)


def act_with_token(token: str, config: EngineConfig, now: datetime) -> tuple[TokenView, ActionOutcome | None]:
    """Consume the token and carry out its action, attributed to the person it was sent to via
    its channel, in one transaction: of any number of concurrent calls, one acts. Returns the
    token's view before acting and the outcome (None when the token could not be used)."""
    with write_transaction():
        # Locked, so a concurrent use waits here and then sees the token used.
        row = _find(token, now, lock=True)
        if row is None:
            return INVALID, None
        view = _view(row)
        if view.state != "valid":
            return view, None
        MagicLinkToken.update(used=True, used_at=now).where(MagicLinkToken.id == row.id).execute()
        assert view.person is not None  # a valid token names its person
        actor = Actor(view.person, row.channel, row.user_id)
        return view, transition(row.incident_id, Action(row.action), actor, config, now)
