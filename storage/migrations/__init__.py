"""Ordered schema migrations.

Each migration is a module ``mNNNN_name.py`` with ``apply(database)``, run synchronously inside
``database.run`` and inside a transaction. Applied versions are recorded in ``schema_migration``,
so ``migrate`` is idempotent and picks up where an interrupted run stopped.
"""
from __future__ import annotations

import importlib
import pkgutil

from peewee import CharField, Model

from storage.database import database
from storage.fields import UTCDateTimeField, utcnow


class SchemaMigration(Model):
    version = CharField(primary_key=True)
    applied_at = UTCDateTimeField(default=utcnow)

    class Meta:
        database = database
        table_name = "schema_migration"


def available_migrations() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.name.startswith("m") and info.name[1:5].isdigit()
    )


def _apply_pending() -> list[str]:
    database.create_tables([SchemaMigration], safe=True)
    applied = []
    for name in _pending():
        module = importlib.import_module(f"{__name__}.{name}")
        with database.atomic():
            module.apply(database)
            SchemaMigration.create(version=name)
        applied.append(name)
    return applied


async def migrate() -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date)."""
    return await database.run(_apply_pending)


def _pending() -> list[str]:
    if not database.table_exists(SchemaMigration._meta.table_name):
        return available_migrations()
    done = {row.version for row in SchemaMigration.select()}
    return [name for name in available_migrations() if name not in done]


async def pending_migrations() -> list[str]:
    return await database.run(_pending)
