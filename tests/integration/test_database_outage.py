"""The database going away, in one process: answers reflect what was committed (a read that
fails after the write changes nothing and answers 503), outages answer 503 with Retry-After,
a locked SQLite file too, the dispatcher keeps a sent batch's results through a blip, and the
PostgreSQL bridge never carries a task on over a lost connection (``storage.postgres_bridge``).

PostgreSQL is made unreachable through ``tests.fakes.tcp_proxy``, as a failover does."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from urllib.parse import urlsplit

import asyncpg
import peewee
import pytest
from playhouse.pwasyncio import await_

from app import create_app
from channels.dispatcher import Dispatcher, DispatcherConfig
from channels.registry import CHANNEL_TRAITS
from incidents import api_keys, lifecycle
from incidents.intake import TriggerRequest
from incidents.lifecycle import EngineConfig
from incidents.service import IncidentService
from storage.availability import LOST_IN_TRANSACTION, is_unavailable
from storage.database import close_database, database, is_postgres, open_database, write_transaction
from storage.enums import Channel, DeliveryStatus, IncidentStatus
from storage.models import Incident, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.fakes.tcp_proxy import TcpProxy


def _connection_lost() -> peewee.InterfaceError:
    original = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    return peewee.InterfaceError(original, *original.args)


def _fail_once(monkeypatch, model, name: str) -> list:
    """The next call of ``model.name`` raises a lost connection; later calls work."""
    real = getattr(model, name)
    failures = []

    def failing(*args, **kwargs):
        if not failures:
            failures.append(name)
            raise _connection_lost()
        return real(*args, **kwargs)

    monkeypatch.setattr(model, name, failing)
    return failures


async def _seed_team() -> None:
    team = await Team.acreate(name="payments", display_name="Payments")
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=alice)


@pytest.fixture
async def api(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    await _seed_team()
    client.auth = {"Authorization": f"Bearer {await api_keys.ApiKeys().create('monitoring')}"}
    return client


def _no_tracebacks(caplog) -> None:
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []


async def test_a_trigger_whose_last_write_fails_creates_nothing_and_answers_503(api, monkeypatch, caplog):
    # The incident row is inserted (and read back with RETURNING); its pages and timeline are the
    # transaction's last statements, so losing the connection there must undo the incident too.
    failures = _fail_once(monkeypatch, lifecycle, "insert_rows")
    body = {"title": "DB primary down", "team": "payments"}
    refused = await api.post("/api/v1/incidents", json=body, headers=api.auth)
    assert failures and refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    assert "database is unavailable" in (await refused.json())["error"]
    assert await database.count(Incident.select()) == 0, "nothing was committed under the 503"
    assert await database.count(NotificationLog.select()) == 0, "nobody was paged"

    retried = await api.post("/api/v1/incidents", json=body, headers=api.auth)
    assert retried.status == 201
    assert [incident.id for incident in await database.list(Incident.select())] == [(await retried.json())["number"]]
    _no_tracebacks(caplog)


async def test_an_acknowledge_whose_read_back_fails_changes_nothing_and_answers_503(api, monkeypatch):
    created = await (await api.post("/api/v1/incidents", json={"title": "x", "team": "payments"}, headers=api.auth)).json()
    _fail_once(monkeypatch, Incident, "get_by_id")
    path = f"/api/v1/incidents/{created['number']}/acknowledge"
    refused = await api.post(path, headers=api.auth)
    assert refused.status == 503
    assert (await Incident.aget_by_id(created["number"])).status == IncidentStatus.TRIGGERED
    retried = await (await api.post(path, headers=api.auth)).json()
    assert retried["changed"] is True and retried["incident"]["status"] == IncidentStatus.ACKNOWLEDGED


async def test_an_alertmanager_trigger_whose_last_write_fails_answers_503(api, monkeypatch):
    _fail_once(monkeypatch, lifecycle, "insert_rows")
    group = {
        "version": "4", "status": "firing", "groupKey": "{}:{alertname=\"DiskFull\"}", "receiver": "ackbot",
        "commonLabels": {"alertname": "DiskFull", "team": "payments"}, "commonAnnotations": {},
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull"}, "annotations": {}}],
    }
    refused = await api.post("/webhooks/alertmanager", json=group, headers=api.auth)
    assert refused.status == 503 and await database.count(Incident.select()) == 0
    assert (await api.post("/webhooks/alertmanager", json=group, headers=api.auth)).status == 200
    assert await database.count(Incident.select()) == 1


async def test_a_locked_sqlite_database_answers_503_not_500(api, settings, caplog):
    if is_postgres():
        pytest.skip("a database file locked by another process is SQLite's outage")
    path = urlsplit(settings.database_url).path
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock():
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=hold_the_write_lock)
    thread.start()
    try:
        locked.wait(10)
        refused = await api.post("/api/v1/incidents", json={"title": "x", "team": "payments"}, headers=api.auth)
    finally:
        release.set()
        thread.join(10)
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    assert (await api.post("/api/v1/incidents", json={"title": "x", "team": "payments"}, headers=api.auth)).status == 201
    assert await database.count(Incident.select()) == 1

    def outage_lines():
        return [record.getMessage() for record in caplog.records if record.getMessage().startswith("server: ")]

    for _ in range(100):  # the probe notices the lock is gone
        if len(outage_lines()) == 2:
            break
        await asyncio.sleep(0.05)
    went, back = outage_lines()
    assert "database is unavailable (OperationalError: database is locked)" in went
    assert back.startswith("server: the database is back after")
    _no_tracebacks(caplog)


# --- PostgreSQL through a proxy --------------------------------------------------------------


@pytest.fixture
async def proxied(empty_database_url):
    """The empty database opened through a TCP proxy (PostgreSQL only); yields the proxy."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("the proxy stands between Ackbot and PostgreSQL")
    parts = urlsplit(empty_database_url)
    async with TcpProxy(parts.hostname, parts.port or 5432) as proxy:
        open_database(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl(), pool_size=4)
        try:
            yield proxy
        finally:
            await close_database()


def _quiet(caplog) -> list[str]:
    """What the bridge and the driver logged at WARNING or above."""
    return [record.getMessage() for record in caplog.records
            if record.levelno >= logging.WARNING and record.name.startswith(("peewee", "asyncpg", "ackbot.database"))]


def _make_team(name: str) -> None:
    with write_transaction():
        Team.create(name=name, display_name=name)


async def test_a_statement_on_a_connection_the_server_ended_runs_on_a_fresh_one(proxied, caplog):
    """A restart sends each session a FATAL error, then closes it; a statement sent in between is
    refused by asyncpg ("cannot switch to state 15; another operation (2) is in progress")."""
    await database.run(lambda: Team.select().count())  # this task now holds an idle connection
    ending = asyncio.create_task(proxied.end_postgres_sessions(close_after=0.5))
    await asyncio.sleep(0.1)  # the error has arrived, the close has not
    await database.run(_make_team, "payments")
    await database.run(lambda: Team.select().count())
    await ending
    assert [team.name for team in await database.list(Team.select())] == ["payments"]
    assert _quiet(caplog) == []


async def test_a_lost_connection_is_forgotten_not_handed_back_again_and_again(proxied, caplog):
    await database.run(lambda: Team.select().count())
    await proxied.cut()
    for _ in range(3):
        with pytest.raises(Exception) as failed:
            await database.run(_make_team, "payments")
        assert is_unavailable(failed.value)
    await proxied.restore()
    await database.run(_make_team, "payments")
    assert await database.count(Team.select()) == 1
    assert _quiet(caplog) == [], "no 'Error rolling back connection … released back to the pool'"


async def test_a_transaction_whose_connection_was_lost_never_carries_on_on_another(proxied):
    def transaction_through_a_cut():
        with write_transaction():
            Team.create(name="first", display_name="first")
            await_(proxied.cut())
            try:
                Team.create(name="lost", display_name="lost")
            except peewee.PeeweeException:
                pass  # a caller that swallows the error and carries on
            await_(proxied.restore())
            Team.create(name="after", display_name="after")

    with pytest.raises(peewee.OperationalError, match=LOST_IN_TRANSACTION) as lost:
        await database.run(transaction_through_a_cut)
    assert is_unavailable(lost.value)
    assert await database.count(Team.select()) == 0, "nothing of the transaction, nor after it, was committed"


class _BlipChannel(ScriptedChannel):
    """Sends, and cuts the database while the batch is in flight; restores it ``outage`` later."""

    def __init__(self, proxy: TcpProxy, outage: float):
        super().__init__(Channel.EMAIL)
        self.proxy, self.outage, self.blip = proxy, outage, None
        self.cut = asyncio.get_running_loop().create_future()

    async def deliver(self, payload):
        result = await super().deliver(payload)
        if self.blip is None:
            self.blip = asyncio.create_task(self._blip())
        await asyncio.shield(self.cut)
        return result

    async def _blip(self):
        await self.proxy.cut()
        self.cut.set_result(None)
        await asyncio.sleep(self.outage)
        await self.proxy.restore()


async def test_a_batch_sent_during_a_blip_is_recorded_once_the_database_is_back(proxied, caplog):
    team = await Team.acreate(name="payments", display_name="Payments")
    for number in range(5):
        user = await User.acreate(handle=f"u{number}", name=f"User {number}", email=f"u{number}@example.com")
        await TeamMember.acreate(team=team, user=user)
    service = IncidentService(EngineConfig(enabled_channels=frozenset({Channel.EMAIL}), channel_traits=CHANNEL_TRAITS))
    await service.trigger(TriggerRequest(title="disk full", team="payments"))
    channel = _BlipChannel(proxied, outage=0.5)
    dispatcher = Dispatcher(service, {Channel.EMAIL: channel}, DispatcherConfig(batch_size=10))
    caplog.set_level(logging.INFO)

    assert await dispatcher.run_once() == 5
    await channel.blip

    rows = await database.list(NotificationLog.select().order_by(NotificationLog.id))
    assert [row.status for row in rows] == [DeliveryStatus.SENT] * 5
    assert sorted(payload.notification_id for payload in channel.sent) == [row.id for row in rows], "each sent once"
    assert all(row.provider_id for row in rows)
    warnings = [record.getMessage() for record in caplog.records if record.name == "ackbot.dispatcher"]
    assert len(warnings) == 2
    assert warnings[0].startswith("dispatcher: the database is unavailable")
    assert warnings[1].startswith("dispatcher: the database is back")
    _no_tracebacks(caplog)
