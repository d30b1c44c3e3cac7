"""``ackbot serve`` keeping every alert in its intake inbox is SIGKILLed in the middle of a burst:
every alert it answered opens its incident once a second process has taken the inbox over, none
twice, and nothing is left in the inbox (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import signal

import aiohttp

from incidents import api_keys
from storage.database import database
from storage.models import Incident, IntakeSignal, Team, TeamMember, User
from tests.reliability.outage_support import Processes, free_port, healthz, wait_until
from tests.reliability.outage_support import ackbot_environment as outage_environment

ALERTS = 300
KILL_AFTER = 60  # answers received before the kill


def _environment(storage: str, encryption_key: str, tmp_path, port: int) -> dict:
    environment = outage_environment(storage, encryption_key, "http://127.0.0.1:9", tmp_path, port)
    environment.update({
        "ACKBOT_INTAKE_WAIT_MS": "0", "ACKBOT_SEND_TIMEOUT": "1", "ACKBOT_LEASE_SECONDS": "6.5",
        "ACKBOT_POLL_INTERVAL": "0.1",
    })
    return environment


async def _seed() -> str:
    team = await Team.acreate(name="payments", display_name="Payments", default_route=True)
    user = await User.acreate(handle="alice", name="Alice", phone="+15550100001")
    await TeamMember.acreate(team=team, user=user)
    return await api_keys.ApiKeys().create("monitoring")


async def _post_all(session, base_url: str, api_key: str, answered: dict[str, int]) -> None:
    async def post(index: int) -> None:
        body = {"title": f"Burst alert {index}", "dedup_key": f"burst-{index}"}
        try:
            async with session.post(f"{base_url}/api/v1/incidents", json=body,
                                    headers={"Authorization": f"Bearer {api_key}"}) as response:
                answered[body["dedup_key"]] = response.status
        except aiohttp.ClientError:
            pass  # cut off by the kill: the sender was told nothing, and would send again

    await asyncio.gather(*(post(index) for index in range(ALERTS)))


async def _incidents_by_key() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for dedup_key, alert_count in await database.list(Incident.select(Incident.dedup_key, Incident.alert_count).tuples()):
        found.setdefault(dedup_key, []).append(alert_count)
    return found


async def test_alerts_answered_before_a_kill_are_all_opened_once_by_the_next_process(storage, encryption_key, tmp_path):
    api_key = await _seed()
    first_port, second_port = free_port(), free_port()
    answered: dict[str, int] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        with Processes(tmp_path, _environment(storage, encryption_key, tmp_path, first_port)) as first:
            serve = first.start("first", "serve")
            base_url = f"http://127.0.0.1:{first_port}"
            await wait_until(lambda: _answers(session, base_url, first), 30, "the first ackbot serve to start")
            burst = asyncio.create_task(_post_all(session, base_url, api_key, answered))
            await wait_until(lambda: len(answered) >= KILL_AFTER, 30, "answers to the burst")
            serve.send_signal(signal.SIGKILL)
            serve.wait(timeout=10)
            await burst
        assert set(answered.values()) == {202}
        assert KILL_AFTER <= len(answered) < ALERTS  # the kill came in the middle
        assert await database.count(IntakeSignal.select()) > 0, "the kill left nothing to take over"

        with Processes(tmp_path, _environment(storage, encryption_key, tmp_path, second_port)) as second:
            second.start("second", "serve")

            async def all_opened() -> bool:
                return set(answered) <= set(await _incidents_by_key())

            await wait_until(all_opened, 40, "every answered alert to open its incident", 0.1)
            await wait_until(_inbox_empty, 10, "the inbox to be worked", 0.1)
            await second.stop()

    opened = await _incidents_by_key()
    assert all(counts == [1] for counts in opened.values()), "an alert was worked twice"


async def _answers(session, base_url: str, processes: Processes) -> bool:
    assert all(processes.alive().values()), "ackbot serve exited during start-up"
    return (await healthz(session, base_url))[0] == 200


async def _inbox_empty() -> bool:
    return await database.count(IntakeSignal.select()) == 0
