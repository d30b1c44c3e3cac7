"""The directory generation (``storage.generation``): its one row, and a trigger on every table
paging reads that moves it on with every insert, delete, and update of a column paging uses
(writes of last-used times, tokens and feed check times leave it alone).

A later migration that rebuilds one of these tables (SQLite's way to change a column) loses its
triggers, and on PostgreSQL a column named in an ``UPDATE OF`` trigger cannot change its type:
such a migration drops the table's triggers first and creates them again after, as here.
``tests/integration/test_directory_cache.py`` checks that every table has them after all
migrations."""
from storage.database import is_postgres
from storage.generation import GENERATION_TABLE
from storage.models import (
    ChannelPreference,
    EscalationLevel,
    EscalationTarget,
    LevelSchedule,
    OnCallSchedule,
    PushSubscription,
    RoutingRuleRow,
    ShiftOverride,
    SlackConnection,
    SlackInstallation,
    Team,
    TeamMember,
    TeamsConnection,
    User,
)

# Model -> the fields whose update matters (None: every field).
_WATCHED = (
    (Team, None),
    (RoutingRuleRow, None),
    (TeamMember, None),
    (User, (User.id, User.handle, User.name, User.email, User.phone, User.is_active)),
    (ChannelPreference, None),
    (EscalationLevel, None),
    (EscalationTarget, None),
    (OnCallSchedule, (OnCallSchedule.id, OnCallSchedule.name, OnCallSchedule.team, OnCallSchedule.time_zone,
                      OnCallSchedule.definition, OnCallSchedule.feed_shifts)),
    (LevelSchedule, None),
    (ShiftOverride, None),
    (SlackConnection, (SlackConnection.user, SlackConnection.is_active)),
    (TeamsConnection, (TeamsConnection.user, TeamsConnection.is_active, TeamsConnection.conversation_reference)),
    (PushSubscription, (PushSubscription.user,)),
    (SlackInstallation, (SlackInstallation.team_id, SlackInstallation.is_active)),
)
WATCHED: dict[str, tuple[str, ...] | None] = {
    model._meta.table_name: None if fields is None else tuple(field.column_name for field in fields)
    for model, fields in _WATCHED
}

_BUMP = f'UPDATE "{GENERATION_TABLE}" SET "value" = "value" + 1 WHERE "id" = 1'
_FUNCTION = "bump_directory_generation"


def _update_clause(columns: tuple[str, ...] | None) -> str:
    return "UPDATE" if columns is None else "UPDATE OF " + ", ".join(f'"{column}"' for column in columns)


def _sqlite(database) -> None:
    for table, columns in WATCHED.items():
        for event in ("INSERT", "DELETE", _update_clause(columns)):
            name = f"{GENERATION_TABLE}_{table}_{event.split()[0].lower()}"
            database.execute_sql(
                f'CREATE TRIGGER IF NOT EXISTS "{name}" AFTER {event} ON "{table}" BEGIN {_BUMP}; END'
            )


def _postgres(database) -> None:
    # Once a statement (not once a row): a people file applied writes many rows.
    database.execute_sql(
        f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN {_BUMP}; RETURN NULL; END $$"
    )
    for table, columns in WATCHED.items():
        name = f"{GENERATION_TABLE}_{table}"
        events = f"INSERT OR DELETE OR TRUNCATE OR {_update_clause(columns)}"
        database.execute_sql(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
        database.execute_sql(
            f'CREATE TRIGGER "{name}" AFTER {events} ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()'
        )


def apply(database):
    database.execute_sql(
        f'CREATE TABLE IF NOT EXISTS "{GENERATION_TABLE}" ("id" INTEGER NOT NULL PRIMARY KEY, "value" BIGINT NOT NULL)'
    )
    if not database.execute_sql(f'SELECT 1 FROM "{GENERATION_TABLE}" WHERE "id" = 1').fetchone():
        database.execute_sql(f'INSERT INTO "{GENERATION_TABLE}" ("id", "value") VALUES (1, 0)')
    if is_postgres():
        _postgres(database)
    else:
        _sqlite(database)
