"""Two real worker processes (the production Dispatcher, tests/integration/worker_process.py)
checking one database at the same moment open exactly one incident per silent heartbeat: the
silence is claimed by a conditional update, so the second never even repeats the incident."""
from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from incidents import heartbeats
from storage.database import database
from storage.enums import EventKind
from storage.fields import utcnow
from storage.models import Incident, IncidentEvent
from tests.fakes.recorder import Recorder
from tests.integration.worker_support import Workers, check_alive, wait_until

SILENT = 20


async def test_two_workers_open_one_incident_per_silent_heartbeat(storage, encryption_key, tmp_path):
    long_ago = utcnow() - timedelta(hours=1)
    for number in range(SILENT):
        await heartbeats.Heartbeats(lambda: long_ago).create(f"job-{number}", None, timedelta(minutes=10), None)
    gate = tmp_path / "go"
    async with Recorder() as recorder:
        with Workers(tmp_path, storage, encryption_key, recorder.url) as workers:
            ready = {label: tmp_path / f"{label}.ready" for label in ("one", "two")}
            processes = [workers.start(label, ready_file=path, start_gate=gate, poll_interval=0.05)
                         for label, path in ready.items()]

            def both_ready():
                for process in processes:
                    check_alive(workers, process)
                return all(path.exists() for path in ready.values())

            await wait_until(both_ready, 20, "both workers to connect")
            gate.touch()

            async def all_opened():
                for process in processes:
                    check_alive(workers, process)
                return await database.run(Incident.select().count) == SILENT

            await wait_until(all_opened, 30, "an incident for every silent heartbeat", interval=0.05)
            await asyncio.sleep(0.5)  # both workers poll several more times
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                assert process.wait(timeout=15) == 0, workers.logs()

    incidents = await database.run(lambda: list(Incident.select().order_by(Incident.title)))
    assert sorted(incident.title for incident in incidents) == sorted(
        f"No heartbeat from job-{number} for 10 minutes" for number in range(SILENT))
    assert {incident.alert_count for incident in incidents} == {1}
    repeats = await database.run(IncidentEvent.select().where(IncidentEvent.kind == EventKind.REPEATED).count)
    assert repeats == 0
