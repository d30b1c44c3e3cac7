"""Storage on SQLite and PostgreSQL: the seed's schema, migrations, encrypted tokens, key rotation."""
from __future__ import annotations

import os
import sqlite3
from datetime import UTC

import pytest
from peewee import CharField, Model
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as schema_migrate

from incidents.outbox import load_deliveries
from storage.database import database, is_postgres
from storage.fields import UTCDateTimeField, use_keyring, utcnow
from storage.keyring import Keyring, generate_key
from storage.migrations import SchemaMigration, migrate
from storage.migrations.m0007_schedules import SCHEDULE_TABLES
from storage.models import (
    ApiKey,
    EscalationLevel,
    HandledWebhook,
    Incident,
    IncidentAlert,
    LevelSchedule,
    NotificationLog,
    OnCallSchedule,
    RoutingRuleRow,
    SlackConnection,
    SlackInstallation,
    Team,
    TeamPost,
    User,
)
from storage.rotation import find_missing_key, rotate_all

SEED_COLUMNS = {
    "notification_log": {
        "incident_id", "user_id", "channel", "status", "provider_id", "error", "attempt_count",
        "escalation_level", "queued_at", "sent_at", "delivered_at", "last_attempt_at", "created_at",
    },
    "magic_link_token": {"token_hash", "incident_id", "action", "used", "used_at", "expires_at", "created_at"},
    "slack_connection": {
        "user_id", "access_token", "refresh_token", "token_expires_at", "slack_user_id", "slack_team_id",
        "slack_email", "is_active", "last_used_at", "created_at", "updated_at",
    },
    "teams_connection": {
        "user_id", "access_token", "refresh_token", "token_expires_at", "teams_user_id", "teams_tenant_id",
        "teams_email", "is_active", "last_used_at", "created_at", "updated_at",
    },
}


async def _columns(table: str) -> set[str]:
    columns = await database.run(database.get_columns, table)
    return {column.name for column in columns}


async def _indexes(table: str) -> dict[tuple[str, ...], bool]:
    """{columns: unique} for every index on ``table``."""
    if not is_postgres():
        indexes = await database.run(database.get_indexes, table)
        return {tuple(index.columns): index.unique for index in indexes}
    cursor = await database.run(
        database.execute_sql, f"SELECT indexdef FROM pg_indexes WHERE tablename = '{table}'"
    )
    return {
        tuple(column.strip().strip('"') for column in definition.rsplit("(", 1)[1].rstrip(")").split(",")):
        "UNIQUE INDEX" in definition
        for (definition,) in cursor.fetchall()
    }


async def test_schema_holds_the_seed_tables_and_columns(storage):
    for table, expected in SEED_COLUMNS.items():
        assert expected <= await _columns(table), table


async def test_seed_indexes_exist(storage):
    notification_indexes = await _indexes("notification_log")
    assert ("incident_id", "channel") in notification_indexes
    assert ("user_id", "status") in notification_indexes
    assert ("incident_id", "user_id", "channel") in notification_indexes
    token_indexes = await _indexes("magic_link_token")
    assert token_indexes[("token_hash",)] is True
    assert ("incident_id", "action") in token_indexes
    assert ("expires_at",) in token_indexes


async def test_migrate_is_idempotent(storage):
    assert await migrate() == []


async def test_times_read_back_aware_in_utc(storage):
    user = await User.acreate(handle="alice", name="Alice")
    incident = await Incident.acreate(title="DB primary down")
    row = await NotificationLog.acreate(incident=incident, user=user, channel="EMAIL")
    stored = await NotificationLog.aget_by_id(row.id)
    assert stored.queued_at.tzinfo is not None
    assert stored.queued_at.utcoffset() == UTC.utcoffset(None)
    assert abs((stored.queued_at - row.queued_at).total_seconds()) < 0.001


async def test_pages_loaded_by_id_come_back_whole_for_every_number_of_ids(storage):
    """The claim's load is SQL built once per number of ids: each size reads the right rows."""
    team = await Team.acreate(name="db", display_name="Database team")
    incident = await Incident.acreate(title="DB primary down", team=team)
    people = [await User.acreate(handle=f"p{index}", name=f"Person {index}") for index in range(5)]
    pages = [await NotificationLog.acreate(incident=incident, user=person, channel="SMS") for person in people]
    for chosen in ([0], [1, 3], [0, 1, 2, 3, 4], [2], [4, 0]):
        loaded = await database.run(load_deliveries, [pages[index].id for index in chosen])
        assert [(page.user.name, page.incident.title, page.team_name, page.channel) for page in loaded] == [
            (f"Person {index}", "DB primary down", "Database team", "SMS") for index in sorted(chosen)
        ]


async def test_statements_still_run_after_a_migration_changes_a_table_under_them(storage):
    """Statements are prepared once per connection and kept (PostgreSQL): one whose table a
    migration changed since (here a column's type) is prepared again, not refused."""
    await User.acreate(handle="alice", name="Alice", time_zone="Europe/Oslo")

    def zones():
        return [zone for (zone,) in database.execute_sql("SELECT time_zone FROM \"user\" ORDER BY id").fetchall()]

    for _ in range(3):  # on every pooled connection the test may get
        assert await database.run(zones) == ["Europe/Oslo"]
    if is_postgres():
        # A column no directory trigger names: PostgreSQL refuses to change the type of one that is.
        await database.run(database.execute_sql, 'ALTER TABLE "user" ALTER COLUMN time_zone TYPE text')
    for _ in range(3):
        assert await database.run(zones) == ["Europe/Oslo"]


async def _raw_token_values() -> list[str]:
    cursor = await database.run(
        database.execute_sql, "SELECT access_token, refresh_token FROM slack_connection"
    )
    return [value for row in cursor.fetchall() for value in row]


async def test_tokens_are_encrypted_and_rotate_to_a_new_key(storage, encryption_key):
    user = await User.acreate(handle="alice", name="Alice")
    await SlackConnection.acreate(
        user=user, access_token="xoxp-very-secret", refresh_token="xoxe-refresh",
        slack_user_id="U1", slack_team_id="T1",
    )
    await SlackInstallation.acreate(client_id="c", team_id="T1", bot_token="xoxb-bot-secret")
    raw = await _raw_token_values()
    assert all("secret" not in value and "refresh" not in value for value in raw)

    new_key = generate_key()
    use_keyring(Keyring((new_key, encryption_key)))
    assert await rotate_all() == 3
    assert await rotate_all() == 0

    use_keyring(Keyring((new_key,)))
    assert await find_missing_key(Keyring((new_key,))) is None
    connection = await SlackConnection.aget()
    assert connection.access_token == "xoxp-very-secret"
    assert (await SlackInstallation.aget()).bot_token == "xoxb-bot-secret"


async def test_data_under_a_removed_key_is_reported_by_id(storage, encryption_key):
    user = await User.acreate(handle="alice", name="Alice")
    await SlackConnection.acreate(user=user, access_token="xoxp-1", slack_user_id="U1", slack_team_id="T1")
    other = Keyring((generate_key(),))
    assert await find_missing_key(other) == Keyring((encryption_key,)).primary_id


async def test_sqlite_file_never_holds_a_token_in_plain_text(storage):
    if is_postgres():
        pytest.skip("checks the SQLite file itself")
    user = await User.acreate(handle="alice", name="Alice")
    await SlackConnection.acreate(user=user, access_token="xoxp-plaintext-marker", slack_user_id="U1", slack_team_id="T1")
    await database.run(database.execute_sql, "PRAGMA wal_checkpoint(FULL)")
    path = storage[len("sqlite:///"):]
    blob = b"".join(open(candidate, "rb").read() for candidate in (path, path + "-wal") if os.path.exists(candidate))
    assert b"xoxp-plaintext-marker" not in blob
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_database_from_before_team_posts_is_brought_up_to_date(storage):
    def downgrade():
        database.drop_tables([TeamPost])
        migrator = SchemaMigrator.from_database(database.obj)
        schema_migrate(
            migrator.drop_column(Team._meta.table_name, "slack_workspace"),
            migrator.drop_column(Team._meta.table_name, "teams_channel"),
        )
        SchemaMigration.delete().where(SchemaMigration.version == "m0002_team_posts").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0002_team_posts"]
    team = await Team.acreate(
        name="payments", display_name="Payments", slack_channel="C0PAYMENTS1", slack_workspace="T0ACME123",
        teams_channel="19:general@thread.tacv2",
    )
    incident = await Incident.acreate(title="DB primary down", team=team)
    post = await TeamPost.acreate(incident=incident, team=team, destination="C0PAYMENTS1")
    assert (await TeamPost.aget_by_id(post.id)).status == "QUEUED"
    stored = await Team.aget_by_id(team.id)
    assert (stored.slack_workspace, stored.teams_channel) == ("T0ACME123", "19:general@thread.tacv2")
    assert await migrate() == []


async def test_a_database_from_before_routing_is_brought_up_to_date(storage):
    class ApiKeyBeforeRouting(Model):
        name = CharField(unique=True)
        key_hash = CharField(unique=True, max_length=64)
        prefix = CharField()
        created_at = UTCDateTimeField(default=utcnow)
        last_used_at = UTCDateTimeField(null=True)
        revoked_at = UTCDateTimeField(null=True)

        class Meta:
            table_name = ApiKey._meta.table_name

    def downgrade():
        # SQLite cannot drop a foreign-key column: the key table is made again as it was.
        database.drop_tables([RoutingRuleRow, IncidentAlert, ApiKey])
        with database.bind_ctx([ApiKeyBeforeRouting]):
            database.create_tables([ApiKeyBeforeRouting])
        migrator = SchemaMigrator.from_database(database.obj)
        schema_migrate(migrator.drop_column(Team._meta.table_name, "default_route"))
        SchemaMigration.delete().where(SchemaMigration.version == "m0004_routing").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0004_routing"]
    team = await Team.acreate(name="payments", display_name="Payments", default_route=True)
    key = await ApiKey.acreate(name="pd", key_hash="0" * 64, prefix="0123", team=team, service="checkout")
    await RoutingRuleRow.acreate(position=1, match={"job": "pg-*"}, team=team)
    incident = await Incident.acreate(title="DB primary down", team=team)
    await IncidentAlert.acreate(incident=incident, fingerprint="92e53858f5120b18", line="PostgresDown")
    stored = await ApiKey.aget_by_id(key.id)
    assert (stored.team_id, stored.service) == (team.id, "checkout")
    assert (await Team.aget_by_id(team.id)).default_route is True


async def test_a_database_from_before_schedules_is_brought_up_to_date(storage):
    def downgrade():
        database.drop_tables(SCHEDULE_TABLES)
        SchemaMigration.delete().where(SchemaMigration.version == "m0007_schedules").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0007_schedules"]
    schedule = await OnCallSchedule.acreate(name="payments-primary", time_zone="Europe/Berlin", definition={"rotations": []})
    team = await Team.acreate(name="payments", display_name="Payments")
    level = await EscalationLevel.acreate(team=team, level=1, delay_minutes=5)
    await LevelSchedule.acreate(escalation_level=level, schedule=schedule)
    stored = await database.run(lambda: OnCallSchedule.get(OnCallSchedule.name == "payments-primary"))
    assert stored.definition == {"rotations": []}


async def test_a_database_from_before_handled_webhooks_is_brought_up_to_date(storage):
    def downgrade():
        database.drop_tables([HandledWebhook])
        SchemaMigration.delete().where(SchemaMigration.version == "m0003_handled_webhooks").execute()

    await database.run(downgrade)
    assert await migrate() == ["m0003_handled_webhooks"]
    await HandledWebhook.acreate(key="0" * 64, answer="<Response/>", received_at=utcnow())
    assert [row.answer for row in await database.list(HandledWebhook.select())] == ["<Response/>"]
    assert await migrate() == []
