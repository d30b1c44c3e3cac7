"""Re-encrypting stored secrets under the keyring's first key, and finding data under unknown keys."""
from __future__ import annotations

from peewee import fn

from storage.database import database, write_transaction
from storage.fields import current_keyring
from storage.keyring import PREFIX, Keyring
from storage.models import encrypted_columns

BATCH_SIZE = 200


def _prefix_of(field):
    """The ``enc:v1:<key id>:`` prefix of a column's raw value, read without decrypting it."""
    length = len(PREFIX) + 9
    return fn.SUBSTR(field, 1, length).coerce(False)


def _prefix_for(key_id: str) -> str:
    return f"{PREFIX}{key_id}:"


def _first_unknown_key(keyring: Keyring) -> str | None:
    known = [_prefix_for(key_id) for key_id in keyring.key_ids]
    for model, field in encrypted_columns():
        prefix = _prefix_of(field)
        row = (
            model.select(prefix.alias("prefix"))
            .where(field.is_null(False) & prefix.not_in(known))
            .dicts()
            .first()
        )
        if row is not None:
            return row["prefix"][len(PREFIX):].rstrip(":") or "(none)"
    return None


async def find_missing_key(keyring: Keyring) -> str | None:
    """The id of a key some stored value was encrypted with that ``keyring`` lacks, or None."""
    return await database.run(_first_unknown_key, keyring)


def _rotate_batch(model, field, primary_prefix: str) -> int:
    with write_transaction():
        rows = list(
            model.select(model._meta.primary_key, field)
            .where(field.is_null(False) & (_prefix_of(field) != primary_prefix))
            .limit(BATCH_SIZE)
        )
        for row in rows:
            model.update({field: getattr(row, field.name)}).where(
                model._meta.primary_key == row._pk
            ).execute()
    return len(rows)


async def rotate_all() -> int:
    """Re-encrypt every value not yet under the first key; returns how many were re-encrypted.

    Works in small committed batches, so an interrupted run loses nothing and a re-run finishes
    the rest; a run with nothing left to do changes nothing.
    """
    primary_prefix = _prefix_for(current_keyring().primary_id)
    total = 0
    for model, field in encrypted_columns():
        while True:
            count = await database.run(_rotate_batch, model, field, primary_prefix)
            total += count
            if count < BATCH_SIZE:
                break
    return total
