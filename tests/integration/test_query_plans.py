"""The queries behind ``status`` (one incident's report), ``list`` (open incidents) and the
dispatcher's claim use indexes, so they stay fast however many incidents and pages the database
holds. Plans, not times: each SELECT those calls run is explained by the database itself
(SQLite: EXPLAIN QUERY PLAN has no full SCAN of the big tables; PostgreSQL, with sequential
scans discouraged: no Seq Scan on them)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from channels.registry import CHANNEL_TRAITS
from incidents import inbox_store
from incidents.inbox_store import ActByKey
from incidents.intake import TriggerRequest
from incidents.service import Actor, EngineConfig, IncidentService
from storage.database import database, is_postgres
from storage.enums import Action, Channel
from storage.models import (
    ChannelPreference,
    EscalationLevel,
    EscalationTarget,
    Incident,
    IncidentEvent,
    IntakeSignal,
    NotificationLog,
    Team,
    TeamMember,
    User,
)
from tests.fakes.channel import FixedClock

# The tables that grow without bound: a plan must never read one of them whole.
BIG_TABLES = {model._meta.table_name for model in (Incident, NotificationLog, IncidentEvent, IntakeSignal)}


class Recorder:
    """Keeps the SELECTs and UPDATEs (the claim reads inside one) run through the database while
    installed, with their parameters."""

    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []
        self._original = None

    def __enter__(self):
        self._original = database.obj.execute_sql

        def recording(sql, params=None, *args, **kwargs):
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
                self.statements.append((sql, tuple(params or ())))
            return self._original(sql, params, *args, **kwargs)

        database.obj.execute_sql = recording
        return self

    def __exit__(self, *exc_info):
        del database.obj.execute_sql


def _names(sql: str) -> dict[str, str]:
    """{name or alias a big table goes by in ``sql``: its table name}."""
    names = {}
    for table, alias in re.findall(r'"(\w+)"(?:\s+AS\s+"(\w+)")?', sql):
        if table in BIG_TABLES:
            names[table] = table
            if alias:
                names[alias] = table
    return names


def _plan(sql: str, params: tuple) -> list[str]:
    """Synchronous: the database's own plan of ``sql``, a line a step."""
    if is_postgres():
        return [row[0] for row in database.execute_sql("EXPLAIN " + sql, params).fetchall()]
    return [row[3] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]


def _full_scans(statements: list[tuple[str, tuple]]) -> list[str]:
    """Synchronous: the plan lines, over every statement, that read a big table whole."""
    scans = []
    if is_postgres():
        database.execute_sql("SET enable_seqscan = off")
    try:
        for sql, params in statements:
            names = _names(sql)
            if not names:
                continue
            pattern = re.compile(r"Seq Scan on (\w+)" if is_postgres() else r"^SCAN (\w+)")
            scans += [f"{line}  <- {sql}" for line in _plan(sql, params)
                      if (found := pattern.search(line.strip())) and found.group(1) in names]
    finally:
        if is_postgres():
            database.execute_sql("SET enable_seqscan = on")
    return scans


async def _seed(service: IncidentService) -> int:
    """A team of three paged by SMS, and a few incidents that paged them; returns one's number."""
    team = await Team.acreate(name="payments", display_name="Payments")
    level = await EscalationLevel.acreate(team=team, level=1, delay_minutes=5)
    for index in range(3):
        user = await User.acreate(handle=f"p{index}", name=f"Person {index}", email=f"p{index}@example.com",
                                  phone=f"+1555010000{index}")
        await TeamMember.acreate(team=team, user=user)
        await EscalationTarget.acreate(escalation_level=level, user=user)
        await ChannelPreference.acreate(user=user, channel=Channel.SMS, tier="primary")
    numbers = [(await service.trigger(TriggerRequest(title=f"Incident {index}", team="payments"))).incident.id
               for index in range(5)]
    return numbers[2]


@pytest.fixture
async def service(storage):
    config = EngineConfig(
        enabled_channels=frozenset({Channel.SMS}), channel_traits=CHANNEL_TRAITS, tier_timeout=timedelta(minutes=5), max_attempts=3,
    )
    return IncidentService(config, clock=FixedClock())


@pytest.mark.parametrize("call", ["status", "list", "claim"])
async def test_query_uses_indexes(service, call):
    number = await _seed(service)
    assert await database.run(NotificationLog.select().count) == 15  # the claim below has due pages to take
    with Recorder() as recorder:
        if call == "status":
            await service.status(number)
        elif call == "list":
            await service.list_open()
        else:
            assert len(await service.claim_due_notifications("plan-worker", 10)) == 10
    explained = [statement for statement in recorder.statements if _names(statement[0])]
    assert explained, "no query of the big tables was recorded"
    assert await database.run(_full_scans, explained) == []


def _sorted_whole(statements: list[tuple[str, tuple]]) -> list[str]:
    """Synchronous: the plan lines that sort rows (every due row, to take the first few) rather
    than read them in an index's order; on PostgreSQL with sorting discouraged."""
    sorts = []
    if is_postgres():
        database.execute_sql("SET enable_sort = off")
    try:
        for sql, params in statements:
            pattern = re.compile(r"^(->\s*)?Sort\b" if is_postgres() else r"TEMP B-TREE FOR ORDER BY")
            sorts += [f"{line}  <- {sql}" for line in _plan(sql, params) if pattern.search(line.strip())]
    finally:
        if is_postgres():
            database.execute_sql("SET enable_sort = on")
    return sorts


async def test_the_claim_takes_due_pages_in_index_order_without_sorting_the_backlog(service):
    """A claim takes a batch from a backlog of any size: sorting every due page to find the
    oldest would make each claim cost the whole backlog."""
    await _seed(service)
    with Recorder() as recorder:
        assert len(await service.claim_due_notifications("plan-worker", 10)) == 10
    claims = [statement for statement in recorder.statements
              if NotificationLog._meta.table_name in _names(statement[0]) and "ORDER BY" in statement[0].upper()]
    assert claims, "no ordered read of the pages was recorded"
    assert await database.run(_sorted_whole, claims) == []


async def test_the_intake_inbox_is_claimed_and_taken_over_by_index(service):
    """A backlog of kept signals (intake under overload) is worked a batch at a time, in the
    order kept, and a stopped process's signals are found without reading the inbox whole."""
    now, lease = service.clock(), timedelta(seconds=60)
    signals = [(TriggerRequest(title=f"Alert {index}", dedup_key=f"alert-{index}"), None) for index in range(5)]
    await database.run(inbox_store.keep, signals, "plan-worker", lease, now)
    resolve = ActByKey(Action.RESOLVE, "alert-1", Actor("Alertmanager", "ALERTMANAGER"))
    with Recorder() as recorder:
        assert len(await database.run(inbox_store.claim_own, "plan-worker", 3, lease, now, True)) == 3
        assert await database.run(inbox_store.keep_behind, resolve, None, now) == "plan-worker"
        assert await database.run(inbox_store.take_over, "other-worker", lease, now + 2 * lease) == 6
    explained = [statement for statement in recorder.statements if _names(statement[0])]
    assert len(explained) >= 5
    assert await database.run(_full_scans, explained) == []
    assert await database.run(_sorted_whole, explained) == []
