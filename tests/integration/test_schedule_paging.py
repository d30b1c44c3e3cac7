"""Escalation levels that page schedules, end to end on a fixed clock, on SQLite and PostgreSQL:
the people file applied, an incident triggered, the outbox run against scripted channels."""
from __future__ import annotations

from datetime import UTC, datetime

from incidents.directory import PeopleDirectory
from incidents.intake import TriggerRequest
from storage.database import database
from storage.enums import NotificationKind
from storage.models import IncidentEvent, NotificationLog, PagedOnCall, User
from tests.integration.test_engine import Engine

PEOPLE = """
[[teams]]
name = "payments"

[[teams.escalation_levels]]
delay_minutes = {first_delay}
{first_level}

[[teams.escalation_levels]]
delay_minutes = 10
{second_level}

[[schedules]]
name = "payments-primary"
time_zone = "Europe/Berlin"
team = "payments"

[[schedules.rotations]]
users = ["alice", "bob"]
start = "{start}"
shift = "{shift}"
{hours}

[[users]]
handle = "alice"
name = "Alice"
email = "alice@example.com"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob"
email = "bob@example.com"
phone = "+15555550102"
teams = ["payments"]

[[users]]
handle = "carol"
name = "Carol"
email = "carol@example.com"
teams = ["payments"]
"""
SCHEDULE_LEVEL = 'schedules = ["payments-primary"]'
CAROL_LEVEL = 'users = ["carol"]'


async def apply(tmp_path, first_level=SCHEDULE_LEVEL, second_level=CAROL_LEVEL, first_delay=10,
                start="2026-11-27T09:00", shift="1d", hours=""):
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE.format(
        first_level=first_level, second_level=second_level, first_delay=first_delay, start=start, shift=shift, hours=hours,
    ))
    await PeopleDirectory().apply_file(path)


async def paged(incident_id: int) -> list[tuple[str, str, int]]:
    """(handle, channel, level) of every alert page, in order."""
    query = (
        NotificationLog.select(User.handle, NotificationLog.channel, NotificationLog.escalation_level)
        .join(User)
        .where((NotificationLog.incident == incident_id) & (NotificationLog.kind == NotificationKind.ALERT))
        .order_by(NotificationLog.id)
    )
    return await database.run(lambda: list(query.tuples()))


async def timeline(incident_id: int) -> list[str]:
    query = IncidentEvent.select(IncidentEvent.message).where(IncidentEvent.incident == incident_id).order_by(IncidentEvent.id)
    return await database.run(lambda: [message for (message,) in query.tuples()])


async def trigger(engine: Engine) -> int:
    outcome = await engine.service.trigger(TriggerRequest(title="DB primary down", team="payments"))
    await engine.tick()
    return outcome.incident.id


async def test_the_schedule_level_pages_whoever_is_on_call_and_keeps_them_after_a_hand_off(storage, tmp_path):
    await apply(tmp_path, first_delay=24 * 60)
    engine = Engine()  # 2026-11-28 15:00 in Berlin: Bob's day
    incident = await trigger(engine)
    assert await paged(incident) == [("bob", "EMAIL", 1)]
    assert "On call for payments-primary: Bob (level 1)" in await timeline(incident)
    engine.clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # Alice's day now
    await engine.tick()
    assert await paged(incident) == [("bob", "EMAIL", 1), ("bob", "SMS", 1)]
    assert await database.run(lambda: PagedOnCall.select().count()) == 1


async def test_a_schedule_with_nobody_on_call_is_stated_and_its_level_passed_over_at_once(storage, tmp_path):
    await apply(tmp_path, hours='hours = "09:00-17:00"')
    engine = Engine()
    engine.clock.now = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    incident = await trigger(engine)
    assert await paged(incident) == [("carol", "EMAIL", 2)]
    assert await timeline(incident) == [
        "Triggered: DB primary down. Routed to payments: the alert names it",
        "Nobody on call for payments-primary (level 1)",
        "Level 1 passed over: nobody to page",
        "Paging Carol on email (level 2, primary)",
        "Escalated to level 2",
    ]


async def test_a_schedule_reached_by_escalation_is_resolved_when_its_level_is_paged(storage, tmp_path):
    await apply(tmp_path, first_level=CAROL_LEVEL, second_level=SCHEDULE_LEVEL, first_delay=70,
                start="2026-11-28T15:00", shift="1h")
    engine = Engine()  # 14:00 UTC: Alice's hour; the level is paged at 15:10 UTC, in Bob's
    incident = await trigger(engine)
    assert await paged(incident) == [("carol", "EMAIL", 1)]
    await engine.tick(minutes=70)
    assert await paged(incident) == [("carol", "EMAIL", 1), ("bob", "EMAIL", 2)]
    assert "On call for payments-primary: Bob (level 2)" in await timeline(incident)
