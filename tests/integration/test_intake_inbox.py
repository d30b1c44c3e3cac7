"""The intake inbox (``incidents.intake_inbox``), on SQLite and PostgreSQL: signals kept while
triggers wait past their budget are answered at once and open, repeat onto, acknowledge and
resolve incidents in the order they came; a stopped process's signals are taken over; one that
cannot be worked is kept, marked failed, and holds up nothing."""
from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import timedelta

import pytest
from playhouse.pwasyncio import await_

from app import create_app
from incidents import api_keys, inbox_store, lifecycle
from incidents.inbox_store import ActByKey
from incidents.intake import TriggerRequest
from incidents.service import Actor, Kept, TriggerOutcome
from storage.database import database
from storage.enums import Action, Channel, IncidentStatus
from storage.models import Incident, IntakeSignal, NotificationLog, Team, TeamMember, User
from tests.fakes.channel import ScriptedChannel
from tests.integration.test_engine import Engine
from tests.integration.test_trigger_queue import poison_triggers
from tests.unit.test_pagerduty_parsing import ROUTING_KEY


async def _seed() -> None:
    team = await Team.acreate(name="payments", display_name="Payments", default_route=True)
    alice = await User.acreate(handle="alice", name="Alice", email="alice@example.com")
    await TeamMember.acreate(team=team, user=alice)


@pytest.fixture
async def ackbot(aiohttp_client, settings):
    """The application with every intake signal kept first (``ACKBOT_INTAKE_WAIT_MS=0``)."""
    keep_all = dataclasses.replace(settings, intake_wait_ms=0)
    client = await aiohttp_client(create_app(keep_all, channels={Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}))
    await _seed()
    client.key = await api_keys.ApiKeys().create("monitoring")
    await api_keys.ApiKeys().create("pagerduty", key=ROUTING_KEY)
    client.auth = {"Authorization": f"Bearer {client.key}"}
    return client


async def _drained() -> None:
    """Wait until no signal is left to work."""
    async with asyncio.timeout(10):
        while await database.count(IntakeSignal.select().where(IntakeSignal.failed_at.is_null())):
            await asyncio.sleep(0.02)


async def _incidents() -> list[Incident]:
    return await database.list(Incident.select().order_by(Incident.id))


async def _metric(ackbot, name: str) -> float:
    text = await (await ackbot.get("/metrics")).text()
    [value] = re.findall(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(value)


async def test_a_kept_alert_is_answered_at_once_then_opens_and_pages(ackbot):
    kept_before = await _metric(ackbot, "ackbot_intake_kept_total")
    body = {"title": "Checkout failing", "dedup_key": "checkout-5xx", "priority": "critical"}
    first = await ackbot.post("/api/v1/incidents", json=body, headers=ackbot.auth)
    again = await ackbot.post("/api/v1/incidents", json=body, headers=ackbot.auth)
    assert (first.status, await first.json()) == (202, {"queued": True, "title": "Checkout failing", "dedup_key": "checkout-5xx"})
    assert again.status == 202
    await _drained()
    [incident] = await _incidents()
    assert (incident.title, incident.priority, incident.alert_count, incident.status) == (
        "Checkout failing", "CRITICAL", 2, IncidentStatus.TRIGGERED,
    )
    pages = await database.list(NotificationLog.select().where(NotificationLog.incident == incident.id))
    assert [(page.channel, page.status) for page in pages] == [(Channel.EMAIL, "QUEUED")]
    assert await database.count(IntakeSignal.select()) == 0
    assert await _metric(ackbot, "ackbot_intake_kept_total") == kept_before + 2
    assert await _metric(ackbot, "ackbot_intake_waiting") == 0


async def test_an_alertmanager_resolve_kept_behind_its_trigger_resolves_it(ackbot):
    group = {
        "version": "4", "groupKey": '{}:{alertname="DiskFull"}', "status": "firing", "receiver": "ackbot",
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {"alertname": "DiskFull"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing", "labels": {"alertname": "DiskFull", "instance": "db-1"}, "annotations": {},
            "startsAt": "2026-12-02T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "a1",
        }],
    }
    resolved = {**group, "status": "resolved", "alerts": [{**group["alerts"][0], "status": "resolved"}]}
    answers = []
    for body in (group, resolved):
        response = await ackbot.post("/webhooks/alertmanager", json=body, headers=ackbot.auth)
        answers.append((response.status, await response.json()))
    assert answers == [(202, {"incident": None, "queued": True})] * 2
    await _drained()
    [incident] = await _incidents()
    assert (incident.title, incident.status) == ("DiskFull", IncidentStatus.RESOLVED)


async def test_pagerduty_events_kept_get_pagerduty_s_answer_and_act_in_order(ackbot):
    trigger = {
        "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "db-lag",
        "payload": {"summary": "Replica lag 40s", "source": "db-2", "severity": "error"},
    }
    acknowledge = {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "db-lag"}
    for body in (trigger, acknowledge):
        response = await ackbot.post("/v2/enqueue", json=body)
        assert (response.status, await response.json()) == (
            202, {"status": "success", "message": "Event processed", "dedup_key": "db-lag"},
        )
    await _drained()
    [incident] = await _incidents()
    assert (incident.status, incident.acknowledged_via) == (IncidentStatus.ACKNOWLEDGED, "PAGERDUTY")


@pytest.fixture
async def engine(storage):
    await _seed()
    engine = Engine()
    yield engine
    await engine.service.stop()


async def _settled(service) -> None:
    """Wait until the service's inbox has nothing left and its worker has seen so."""
    async with asyncio.timeout(10):
        while service.inbox.active:
            await asyncio.sleep(0.01)


async def test_signals_a_stopped_process_kept_are_taken_over_and_paged(engine):
    kept_at = engine.clock()
    requests = [TriggerRequest(title="Queue backing up", dedup_key="queue"), TriggerRequest(title="Queue backing up", dedup_key="queue")]
    act = ActByKey(Action.ACKNOWLEDGE, "queue", Actor("Alertmanager", "ALERTMANAGER"))
    signals = [(requests[0], None), (requests[1], None), (act, None), (TriggerRequest(title="Cache cold"), None)]
    await database.run(inbox_store.keep, signals, "a-process-that-died", timedelta(seconds=60), kept_at)
    await engine.tick()  # within the lease: still the other process's
    assert await _incidents() == []
    await engine.tick(seconds=61)
    await _drained()
    await engine.tick()
    by_title = {incident.title: incident for incident in await _incidents()}
    queue, cache = by_title["Queue backing up"], by_title["Cache cold"]
    assert (queue.alert_count, queue.status, cache.status) == (2, IncidentStatus.ACKNOWLEDGED, IncidentStatus.TRIGGERED)
    # Acknowledged before its page went out: only the other one is sent.
    assert [payload.title for payload in engine.channels[Channel.EMAIL].sent] == ["Cache cold"]


async def test_a_signal_that_cannot_be_worked_is_kept_failed_and_the_rest_are_worked(engine, monkeypatch):
    poison_triggers(monkeypatch)
    engine.service.config = dataclasses.replace(engine.service.config, intake_wait=timedelta(0))
    answers = [await engine.service.take_trigger(TriggerRequest(title=title), None) for title in ("fine 1", "poisoned", "fine 2")]
    assert all(isinstance(answer, Kept) for answer in answers)
    await _settled(engine.service)
    assert [incident.title for incident in await _incidents()] == ["fine 1", "fine 2"]
    [failed] = await database.list(IntakeSignal.select())
    assert failed.failed_at is not None and failed.error == "ValueError: this trigger cannot be stored"
    assert '"poisoned"' in failed.payload


async def test_triggers_that_would_wait_past_the_budget_are_kept_and_all_open(engine, monkeypatch):
    real = lifecycle.trigger_together

    def slow_trigger_together(*args, **kwargs):
        done = real(*args, **kwargs)
        await_(asyncio.sleep(0.05))  # a write transaction that takes its time, without blocking the loop
        return done

    monkeypatch.setattr(lifecycle, "trigger_together", slow_trigger_together)
    engine.service.config = dataclasses.replace(engine.service.config, intake_wait=timedelta(milliseconds=5))
    service = engine.service
    monkeypatch.setattr(service.intake_pace.lag, "seconds", lambda: 0.0)  # only the write queue counts here
    monkeypatch.setattr(service.intake_pace, "record", lambda seconds: None)
    assert isinstance(await service.take_trigger(TriggerRequest(title="alert 0"), None), TriggerOutcome)
    in_flight = asyncio.create_task(service.take_trigger(TriggerRequest(title="alert 1"), None))
    await asyncio.sleep(0.01)  # alert 1's transaction is under way
    waits = asyncio.create_task(service.take_trigger(TriggerRequest(title="alert 2"), None))
    await asyncio.sleep(0)
    # alert 2 waits for its turn, at about 50 ms a trigger: alert 3 would wait past 5 ms.
    kept = await service.take_trigger(TriggerRequest(title="alert 3"), None)
    assert isinstance(kept, Kept)
    assert all(isinstance(done, TriggerOutcome) for done in await asyncio.gather(in_flight, waits))
    await _settled(service)
    assert sorted(incident.title for incident in await _incidents()) == [f"alert {index}" for index in range(4)]
    assert isinstance(await service.take_trigger(TriggerRequest(title="alert 4"), None), TriggerOutcome)


async def test_while_kept_signals_wait_only_those_with_their_dedup_keys_queue_behind_them(engine, monkeypatch):
    service = engine.service
    slow = True
    monkeypatch.setattr(service.intake_pace, "too_slow", lambda *args: slow)
    gate, claim = asyncio.Event(), service.inbox._claim

    async def held_claim():
        await gate.wait()  # the kept one waits until let go
        return await claim()

    monkeypatch.setattr(service.inbox, "_claim", held_claim)
    assert isinstance(await service.take_trigger(TriggerRequest(title="Disk full", dedup_key="disk"), None), Kept)
    slow = False  # triggers are fast again
    assert isinstance(await service.take_trigger(TriggerRequest(title="Disk full", dedup_key="disk"), None), Kept)
    other = await service.take_trigger(TriggerRequest(title="CPU hot", dedup_key="cpu"), None)
    assert isinstance(other, TriggerOutcome) and other.created
    gate.set()
    await _settled(service)
    disk, cpu = sorted(await _incidents(), key=lambda incident: incident.title, reverse=True)
    assert (disk.title, disk.alert_count, cpu.title) == ("Disk full", 2, "CPU hot")


async def test_while_the_event_loop_runs_late_triggers_are_kept(engine, monkeypatch):
    service = engine.service
    monkeypatch.setattr(service.intake_pace.lag, "seconds", lambda: 0.0)
    assert isinstance(await service.take_trigger(TriggerRequest(title="calm"), None), TriggerOutcome)
    monkeypatch.setattr(service.intake_pace.lag, "seconds", lambda: 0.05)  # ten turns of 50 ms: past 250 ms
    assert isinstance(await service.take_trigger(TriggerRequest(title="busy"), None), Kept)
    await _settled(service)
    assert [incident.title for incident in await _incidents()] == ["calm", "busy"]


async def test_a_resolve_taken_by_another_instance_waits_behind_the_trigger_kept_for_it(engine):
    """Instance A kept a trigger and answered; the sender's resolve reaches instance B before A
    has worked it. Done at once, the resolve would find nothing open and the incident would open
    after it, never to be resolved."""
    trigger = TriggerRequest(title="Replica lag", dedup_key="replica-lag")
    await database.run(inbox_store.keep, [(trigger, None)], "instance-a", timedelta(seconds=60), engine.clock())
    resolve = ActByKey(Action.RESOLVE, "replica-lag", Actor("Alertmanager", "ALERTMANAGER"))
    assert isinstance(await engine.service.take_act(resolve, None), Kept)
    kept = await database.list(IntakeSignal.select().order_by(IntakeSignal.id))
    assert [(row.action, row.claimed_by) for row in kept] == [("trigger", "instance-a"), ("resolve", "instance-a")]
    await engine.tick(seconds=61)  # instance A is gone: B takes both over, in order
    await _settled(engine.service)
    [incident] = await _incidents()
    assert (incident.title, incident.status) == ("Replica lag", IncidentStatus.RESOLVED)
    # With nothing waiting for its key, a resolve is done at once.
    again = await engine.service.take_trigger(TriggerRequest(title="Replica lag", dedup_key="replica-lag"), None)
    assert isinstance(again, TriggerOutcome) and again.created
    done = await engine.service.take_act(resolve, None)
    assert not isinstance(done, Kept) and done is not None and done.changed
