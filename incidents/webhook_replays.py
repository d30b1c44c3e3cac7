"""A provider webhook that acts runs once, across every instance, and a replay gets the first answer.

Twilio signs a webhook without a timestamp or a nonce, so a captured request re-sent later
verifies again: a bare ``ACK`` would acknowledge whatever incident paged the person last. Each
such webhook has an identity (an inbound SMS: its MessageSid; a keypress: the CallSid and the
digit). The first delivery claims it in the database, runs, and its answer is kept; a repeat
within ``REMEMBER`` runs nothing and gets that answer (or, while the first is still running, the
caller's ``busy`` answer). Rows older than ``REMEMBER`` are pruned whenever one is claimed. Only
the identity's SHA-256 is stored.
"""
from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import IntegrityError

from storage.database import database, write_transaction
from storage.models import HandledWebhook

REMEMBER = timedelta(days=1)


@dataclass(frozen=True)
class Claim:
    """``first``: this delivery runs; otherwise ``answer`` is the first one's (None while it runs)."""

    first: bool
    answer: str | None = None


def webhook_key(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


def claim(key: str, now: datetime) -> Claim:
    """Claim ``key`` for this delivery, or find the delivery that claimed it first. Synchronous."""
    with write_transaction():
        HandledWebhook.delete().where(HandledWebhook.received_at < now - REMEMBER).execute()
        earlier = HandledWebhook.get_or_none(HandledWebhook.key == key)
        if earlier is not None:
            return Claim(False, earlier.answer)
        try:
            with database.atomic():  # a savepoint: a concurrent claim on PostgreSQL fails only this insert
                HandledWebhook.insert(key=key, received_at=now).execute()
        except IntegrityError:
            return Claim(False)
    return Claim(True)


def record(key: str, answer: str) -> None:
    HandledWebhook.update(answer=answer).where(HandledWebhook.key == key).execute()


def release(key: str) -> None:
    HandledWebhook.delete().where(HandledWebhook.key == key).execute()


async def answer_once(identity: str, run: Callable[[], Awaitable[str]], busy: str, now: datetime) -> str:
    """``run()``'s answer for the first delivery of ``identity``; the same answer, without
    running anything, for a repeat within REMEMBER (``busy`` while the first still runs). When
    ``run`` fails the claim is released, so the provider's retry is handled afresh."""
    key = webhook_key(identity)
    claimed = await database.run(claim, key, now)
    if not claimed.first:
        return claimed.answer if claimed.answer is not None else busy
    try:
        answer = await run()
    except Exception:
        await database.run(release, key)
        raise
    await database.run(record, key, answer)
    return answer
