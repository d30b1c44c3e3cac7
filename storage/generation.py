"""The directory generation: one number that every write to the tables paging reads (teams,
people, their contact details and tiers, levels, schedules, routing) moves on, in the same
transaction, by database triggers (made by migration m0009). A copy of those tables kept in
memory is current exactly while the number is the one it was read under, whichever process or
connection wrote, so checking costs one row read. Synchronous: call inside ``database.run``."""
from __future__ import annotations

from storage.database import database

GENERATION_TABLE = "directory_generation"

_READ = f'SELECT "value" FROM "{GENERATION_TABLE}" WHERE "id" = 1'


def directory_generation() -> int | None:
    """The current generation; None when its row is missing (then nothing may be trusted)."""
    row = database.execute_sql(_READ).fetchone()
    return row[0] if row else None
