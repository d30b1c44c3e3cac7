"""The directory a trigger pages from is kept in memory (``incidents.directory_cache``): a change
to a team, a person, routing or a schedule made by another process (``ackbot directory apply``)
or straight through another database connection is honoured by the very next trigger, on SQLite
and PostgreSQL; and who is on call is still worked out at each trigger's own time."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg
import pytest

from incidents.directory import PeopleDirectory
from incidents.intake import TriggerRequest
from storage.database import database, is_postgres
from storage.enums import NotificationKind
from storage.migrations.m0009_directory_generation import WATCHED
from storage.models import NotificationLog, User
from tests.integration.test_engine import Engine

PEOPLE = """
[[teams]]
name = "payments"

[[teams]]
name = "databases"

[[teams.escalation_levels]]
delay_minutes = 10
schedules = ["databases-primary"]

[[schedules]]
name = "databases-primary"
time_zone = "UTC"
team = "databases"

[[schedules.rotations]]
users = [{rotation}]
start = "2026-11-27T00:00"
shift = "1d"

[[users]]
handle = "alice"
name = "Alice"
email = "alice@example.com"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob"
email = "bob@example.com"
teams = ["payments"]

[[users]]
handle = "dora"
name = "Dora"
email = "dora@example.com"

[[users]]
handle = "erik"
name = "Erik"
email = "erik@example.com"
"""


def people_file(tmp_path, rotation='"dora", "erik"'):
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE.format(rotation=rotation))
    return path


async def paged(incident_id: int) -> list[tuple[str, str]]:
    """(handle, channel) of every alert page of the incident, in order."""
    query = (
        NotificationLog.select(User.handle, NotificationLog.channel).join(User)
        .where((NotificationLog.incident == incident_id) & (NotificationLog.kind == NotificationKind.ALERT))
        .order_by(NotificationLog.id)
    )
    return await database.run(lambda: list(query.tuples()))


async def trigger(engine: Engine, **fields) -> tuple[str | None, list[tuple[str, str]]]:
    """The team a new incident went to and whom it paged."""
    outcome = await engine.service.trigger(TriggerRequest(title="Checkout failing", **fields))
    return outcome.team_name, await paged(outcome.incident.id)


async def elsewhere(url: str, *statements: str) -> None:
    """Run ``statements`` in one transaction on a connection of their own, not Ackbot's."""
    if url.startswith("sqlite"):
        def run() -> None:
            connection = sqlite3.connect(url[len("sqlite:///"):], timeout=10)
            try:
                with connection:
                    for statement in statements:
                        connection.execute(statement)
            finally:
                connection.close()

        await asyncio.to_thread(run)
        return
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            for statement in statements:
                await connection.execute(statement)
    finally:
        await connection.close()


USER_ID = "(SELECT id FROM \"user\" WHERE handle = '{}')"
TEAM_ID = "(SELECT id FROM team WHERE name = '{}')"
FALSE = "(1 = 0)"  # a false boolean on both databases


@pytest.fixture
async def engine(storage, tmp_path):
    await PeopleDirectory().apply_file(people_file(tmp_path))
    engine = Engine()
    engine.clock.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Dora's day
    assert await trigger(engine, team="payments") == ("payments", [("alice", "EMAIL"), ("bob", "EMAIL")])
    return engine


async def test_a_person_deactivated_on_another_connection_is_not_paged_by_the_next_trigger(engine, storage):
    await elsewhere(storage, f"UPDATE \"user\" SET is_active = {FALSE} WHERE handle = 'bob'")
    assert await trigger(engine, team="payments") == ("payments", [("alice", "EMAIL")])


async def test_a_member_added_on_another_connection_is_paged_by_the_next_trigger(engine, storage):
    await elsewhere(
        storage, f"INSERT INTO team_member (team_id, user_id) VALUES ({TEAM_ID.format('payments')}, {USER_ID.format('erik')})"
    )
    assert await trigger(engine, team="payments") == ("payments", [("alice", "EMAIL"), ("bob", "EMAIL"), ("erik", "EMAIL")])


async def test_contact_details_and_tiers_changed_on_another_connection_count_at_the_next_trigger(engine, storage):
    await elsewhere(
        storage,
        "UPDATE \"user\" SET phone = '+15555550111' WHERE handle = 'alice'",
        "INSERT INTO channel_preference (user_id, channel, tier)"
        f" VALUES ({USER_ID.format('alice')}, 'SMS', 'primary')",
    )
    assert await trigger(engine, team="payments") == ("payments", [("alice", "SMS"), ("bob", "EMAIL")])


async def test_a_routing_rule_added_on_another_connection_routes_the_next_trigger(engine, storage):
    await elsewhere(
        storage,
        "INSERT INTO routing_rule (position, \"match\", team_id)"
        f" VALUES (1, '{{\"service\": \"checkout\"}}', {TEAM_ID.format('databases')})",
    )
    team, pages = await trigger(engine, team="payments", service="checkout", labels={"service": "checkout"})
    assert (team, pages) == ("databases", [("dora", "EMAIL")])


async def test_a_team_renamed_on_another_connection_is_routed_by_its_new_name(engine, storage):
    await elsewhere(storage, "UPDATE team SET name = 'billing' WHERE name = 'payments'")
    assert await trigger(engine, team="billing") == ("billing", [("alice", "EMAIL"), ("bob", "EMAIL")])


async def test_a_schedule_changed_by_another_process_pages_the_new_rotation_at_the_next_trigger(engine, storage, tmp_path, encryption_key):
    assert await trigger(engine, team="databases") == ("databases", [("dora", "EMAIL")])
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("ACKBOT_")},
        "ACKBOT_DATABASE_URL": storage, "ACKBOT_ENCRYPTION_KEYS": encryption_key, "ACKBOT_DATA_DIR": str(tmp_path / "data"),
    }
    path = people_file(tmp_path, rotation='"erik", "dora"')
    applied = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app", "directory", "apply", str(path)],
        capture_output=True, text=True, env=environment, timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    assert await trigger(engine, team="databases") == ("databases", [("erik", "EMAIL")])


async def test_who_is_on_call_is_worked_out_at_each_trigger_from_the_kept_schedule(engine):
    assert await trigger(engine, team="databases") == ("databases", [("dora", "EMAIL")])
    engine.clock.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # Erik's day, nothing written
    assert await trigger(engine, team="databases") == ("databases", [("erik", "EMAIL")])


async def test_every_table_paging_reads_keeps_its_triggers_after_all_migrations(storage):
    """A later migration that rebuilds a watched table would drop its triggers, and the kept
    directory would then miss that table's changes for good."""
    if is_postgres():
        query = "SELECT DISTINCT event_object_table FROM information_schema.triggers"
    else:
        query = "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'"
    cursor = await database.run(database.execute_sql, query)
    assert set(WATCHED) <= {table for (table,) in cursor.fetchall()}
