"""PostgreSQL goes away under steady intake, with ``ackbot serve`` and ``ackbot worker`` as real
processes reaching it through a TCP proxy that the test cuts (as a failover does) and restores:
for a blip shorter than a batch's round trip, and for ten seconds.

What must hold: no incident is created under a 5xx (the 2xx'd ones are exactly the ones that
exist), every page is sent exactly once (what the fake Twilio received), nothing stays QUEUED
or SENDING, both processes live and log no traceback (one warning when the database goes, one
when it is back), /healthz says "degraded" meanwhile, and intake answers 2xx again once it is
back."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from urllib.parse import urlsplit

import aiohttp
import pytest

from incidents import api_keys
from storage.database import database, is_postgres
from storage.enums import Channel, DeliveryStatus
from storage.models import Incident, NotificationLog, Team, TeamMember, User
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.twilio_api import FakeTwilio
from tests.reliability.outage_support import (
    Processes,
    SteadyIntake,
    ackbot_environment,
    free_port,
    healthz,
    wait_until,
)

PEOPLE = 3  # each incident pages three people by SMS
INTAKE_INTERVAL = 0.25  # four incidents a second
BEFORE, AFTER = 1.5, 3.0  # seconds of intake around the outage
RECOVERED_WITHIN = 1.0  # requests sent this long after the restore must all succeed


async def _seed_team() -> str:
    team = await Team.acreate(name="payments", display_name="Payments")
    for number in range(PEOPLE):
        user = await User.acreate(handle=f"p{number}", name=f"Person {number}", phone=f"+1555010000{number}")
        await TeamMember.acreate(team=team, user=user)
    return await api_keys.ApiKeys().create("monitoring")


async def _unfinished() -> int:
    return await database.count(NotificationLog.select().where(
        NotificationLog.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    ))


async def _ride_out(storage, encryption_key, tmp_path, outage: float):
    if not is_postgres():
        pytest.skip("the proxy stands between Ackbot and PostgreSQL (SQLite: see test_database_outage.py)")
    api_key = await _seed_team()
    parts = urlsplit(storage)
    async with FakeTwilio() as twilio, TcpProxy(parts.hostname, parts.port or 5432) as proxy:
        proxied = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = ackbot_environment(proxied, encryption_key, twilio.url, tmp_path, port)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            with Processes(tmp_path, environment) as processes:
                processes.start("serve", "serve")
                processes.start("worker", "worker")

                async def ready():
                    assert all(processes.alive().values()), "a process exited during start-up"
                    return (await healthz(session, base_url))[0] == 200 and "started" in processes.log("worker")

                await wait_until(ready, 30, "ackbot serve and ackbot worker to start")
                intake = SteadyIntake(session, base_url, api_key, "payments", INTAKE_INTERVAL)
                intake.start()
                await asyncio.sleep(BEFORE)
                await proxy.cut()
                cut_at = time.monotonic()
                await asyncio.sleep(min(0.2, outage / 2))
                during = await healthz(session, base_url)
                await asyncio.sleep(outage - (time.monotonic() - cut_at))
                await proxy.restore()
                restored_at = time.monotonic()
                await asyncio.sleep(AFTER)
                answers = await intake.stop()

                await wait_until(lambda: _unfinished_is_zero(), 40, "every page to be sent and recorded", 0.2)
                await asyncio.sleep(0.5)  # a page sent twice would arrive now
                alive = processes.alive()
                exits = await processes.stop()
                logs = {name: processes.log(name) for name in ("serve", "worker")}
    return answers, during, cut_at, restored_at, twilio, alive, exits, logs


async def _unfinished_is_zero() -> bool:
    return await _unfinished() == 0


async def _check(answers, during, restored_at, twilio, alive, exits, logs):
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 503}, f"only 201 and 503 (with Retry-After), got {statuses}"
    created = sorted(answer.number for answer in answers if answer.status == 201)
    stored = sorted(incident.id for incident in await database.list(Incident.select()))
    assert stored == created, "every 2xx'd incident exists, and none was created under a 503"
    late = [answer for answer in answers if answer.sent_at > restored_at + RECOVERED_WITHIN]
    assert late and all(answer.status == 201 for answer in late), "intake answers 2xx again once it is back"

    rows = await database.list(NotificationLog.select())
    assert len(rows) == PEOPLE * len(created)
    assert all(row.channel == Channel.SMS and row.status == DeliveryStatus.SENT for row in rows)
    sids = [message["sid"] for message in twilio.messages]
    assert len(sids) == len(rows), f"{len(sids) - len(rows)} page(s) sent twice"
    assert sorted(sids) == sorted(row.provider_id for row in rows), "every page sent exactly once"

    assert during[0] == 503 and during[1]["status"] == "degraded"
    assert alive == {"serve": True, "worker": True}
    assert exits == {"serve": 0, "worker": 0}
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name} logged a traceback"
        assert text.count("the database is unavailable (") == text.count("the database is back after"), name
    return statuses


async def test_a_blip_sends_nothing_twice_and_creates_nothing_under_an_error(storage, encryption_key, tmp_path):
    answers, during, _, restored_at, twilio, alive, exits, logs = await _ride_out(
        storage, encryption_key, tmp_path, outage=0.5
    )
    await _check(answers, during, restored_at, twilio, alive, exits, logs)


async def test_ten_seconds_without_the_database(storage, encryption_key, tmp_path):
    answers, during, cut_at, restored_at, twilio, alive, exits, logs = await _ride_out(
        storage, encryption_key, tmp_path, outage=10
    )
    statuses = await _check(answers, during, restored_at, twilio, alive, exits, logs)
    refused = [answer for answer in answers if cut_at + 0.5 < answer.sent_at < restored_at - 0.5]
    assert refused and all(answer.status == 503 for answer in refused), "intake said 503 while it was down"
    assert statuses[503] >= len(refused)
    # One warning when it went, one when it came back: the server, and each dispatcher.
    assert logs["serve"].count("server: the database is unavailable (") == 1
    assert logs["serve"].count("server: the database is back after") == 1
    assert logs["worker"].count("dispatcher: the database is unavailable (") == 1
    assert logs["worker"].count("dispatcher: the database is back after") == 1
    assert logs["serve"].count("503 POST /api/v1/incidents: database unavailable") == statuses[503]
