"""Triggers arriving together share write transactions (``incidents.trigger_queue``), on SQLite
and PostgreSQL: each gets its own incident and pages, a repeat in the same group counts on the
incident opened just before it, and a trigger that fails fails alone."""
from __future__ import annotations

import asyncio

import pytest

from incidents import lifecycle
from incidents.directory import PeopleDirectory
from incidents.intake import TriggerRequest
from storage.database import database
from storage.enums import NotificationKind
from storage.models import Incident, NotificationLog
from tests.integration.test_directory_cache import PEOPLE
from tests.integration.test_engine import Engine


@pytest.fixture
async def engine(storage, tmp_path):
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE.format(rotation='"dora", "erik"'))
    await PeopleDirectory().apply_file(path)
    return Engine()


async def test_triggers_arriving_together_each_open_their_own_incident_and_page(engine):
    outcomes = await asyncio.gather(*(
        engine.service.trigger(TriggerRequest(title=f"Checkout failing {index}", team="payments")) for index in range(40)
    ))
    assert [outcome.incident.title for outcome in outcomes] == [f"Checkout failing {index}" for index in range(40)]
    assert all(outcome.created for outcome in outcomes)
    assert len({outcome.incident.id for outcome in outcomes}) == 40
    pages = await database.run(lambda: list(
        NotificationLog.select(NotificationLog.incident).where(NotificationLog.kind == NotificationKind.ALERT).tuples()
    ))
    assert sorted(incident for (incident,) in pages) == sorted(outcome.incident.id for outcome in outcomes for _ in "ab")


async def test_a_repeat_arriving_with_the_first_alert_counts_on_its_incident(engine):
    # On PostgreSQL the two may be written by concurrent transactions: either may come first.
    outcomes = await asyncio.gather(*(
        engine.service.trigger(TriggerRequest(title="Disk full", team="payments", dedup_key="disk")) for _ in range(2)
    ))
    [first] = [outcome for outcome in outcomes if outcome.created]
    [repeat] = [outcome for outcome in outcomes if not outcome.created]
    assert repeat.incident.id == first.incident.id and repeat.incident.alert_count == 2
    assert await database.count(Incident.select()) == 1


def poison_triggers(monkeypatch) -> None:
    """Make every trigger titled "poisoned" fail as its incident is stored."""
    real_open = lifecycle._open

    def open_unless_poisoned(request, *args):
        if request.title == "poisoned":
            raise ValueError("this trigger cannot be stored")
        return real_open(request, *args)

    monkeypatch.setattr(lifecycle, "_open", open_unless_poisoned)


async def test_a_trigger_that_fails_fails_alone(engine, monkeypatch):
    poison_triggers(monkeypatch)
    titles = ["fine 1", "poisoned", "fine 2", "fine 3"]
    results = await asyncio.gather(
        *(engine.service.trigger(TriggerRequest(title=title, team="payments")) for title in titles),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    assert [result.incident.title for result in results if not isinstance(result, Exception)] == ["fine 1", "fine 2", "fine 3"]
    stored = await database.run(lambda: sorted(title for (title,) in Incident.select(Incident.title).tuples()))
    assert stored == ["fine 1", "fine 2", "fine 3"]
