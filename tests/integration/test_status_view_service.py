"""The status view as the service builds it from the database (what /incident status shows)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from channels.dispatcher import Dispatcher, DispatcherConfig
from channels.registry import CHANNEL_TRAITS
from incidents.intake import TriggerRequest
from incidents.service import EngineConfig, IncidentNotFound, IncidentService
from storage.enums import Channel
from storage.models import EscalationLevel, EscalationTarget, Team, TeamMember, User
from tests.fakes.channel import FixedClock, ScriptedChannel


async def _person(handle: str, team: Team) -> User:
    user = await User.acreate(handle=handle, name=handle.title(), email=f"{handle}@example.com")
    await TeamMember.acreate(team=team, user=user)
    return user


async def _level(team: Team, level: int, delay: int, user: User) -> None:
    row = await EscalationLevel.acreate(team=team, level=level, delay_minutes=delay)
    await EscalationTarget.acreate(escalation_level=row, user=user)


async def test_the_status_view_names_who_was_paged_and_who_is_next(storage):
    clock = FixedClock()
    channels = {Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}
    config = EngineConfig(
        enabled_channels=frozenset(channels), channel_traits=CHANNEL_TRAITS, tier_timeout=timedelta(minutes=5), max_attempts=3,
    )
    service = IncidentService(config, clock=clock)
    dispatcher = Dispatcher(service, channels, DispatcherConfig(send_timeout=0.2), worker_id="test-worker", random_source=lambda: 0.0)
    payments = await Team.acreate(name="payments", display_name="Payments")
    await _level(payments, 1, 15, await _person("alice", payments))
    await _level(payments, 2, 15, await _person("bob", payments))
    incident = (await service.trigger(TriggerRequest(title="DB primary down", team="payments"))).incident
    while await dispatcher.run_once():
        pass

    view = await service.status_view(incident.id, "Europe/Berlin")

    assert (view.number, view.title, view.team, view.status) == (incident.id, "DB primary down", "payments", "TRIGGERED")
    assert [(person.name, person.level) for person in view.people] == [("Alice", 1)]
    assert view.next_level is not None and view.next_level.startswith("Level 2 (Bob)")
    with pytest.raises(IncidentNotFound):
        await service.status_view(incident.id + 1, "UTC")
