"""The one API every surface calls: trigger, acknowledge, resolve, status, list_open, and the
outbox operations the dispatcher uses.

Every method runs its queries through ``database.run``, so none blocks the event loop, and takes
the time from the injected clock, so tests run on a fixed one.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from incidents import action_tokens, lifecycle, outbox, report, webhook_replays
from incidents.intake import TriggerRequest
from incidents.lifecycle import ActionOutcome, Actor, EngineConfig, IncidentNotFound, NotAllowed, UnknownTeam
from storage.database import database
from storage.enums import Action, Channel, DeliveryStatus
from storage.fields import utcnow
from storage.models import Incident

__all__ = [
    "ActionOutcome", "Actor", "EngineConfig", "IncidentNotFound", "IncidentService", "NotAllowed", "TriggerOutcome",
    "UnknownTeam",
]


class TriggerOutcome:
    """The incident a trigger opened (``created``) or repeated onto (not ``created``)."""

    def __init__(self, incident: Incident, created: bool):
        self.incident = incident
        self.created = created


class IncidentService:
    """The incident lifecycle and delivery engine.

    ``on_queued`` is called (without arguments) after anything was queued, so a dispatcher in
    this process can wake at once instead of waiting for its next poll.
    """

    def __init__(
        self,
        config: EngineConfig,
        clock: Callable[[], datetime] = utcnow,
        on_queued: Callable[[], None] | None = None,
    ):
        self.config = config
        self.clock = clock
        self.on_queued = on_queued or (lambda: None)

    def notify_queued(self) -> None:
        self.on_queued()

    async def trigger(self, request: TriggerRequest) -> TriggerOutcome:
        """Open an incident and page its team's first level, or count a repeat of an open
        incident with the same dedup key (paging nobody). Raises UnknownTeam."""
        incident, created = await database.run(lifecycle.trigger, request, self.config, self.clock())
        if created:
            self.notify_queued()
        return TriggerOutcome(incident, created)

    async def acknowledge(self, number: int, actor: Actor) -> ActionOutcome:
        """Acknowledge #number: pending pages are cancelled, escalation stops, everyone already
        paged gets a status notice. Idempotent: a second call changes nothing and reports who
        did it. Raises IncidentNotFound, or NotAllowed for a person neither on the incident's
        team nor paged for it."""
        return await self.act(number, Action.ACKNOWLEDGE, actor)

    async def resolve(self, number: int, actor: Actor) -> ActionOutcome:
        """Resolve #number, as ``acknowledge`` does; the dedup key is free again afterwards."""
        return await self.act(number, Action.RESOLVE, actor)

    async def latest_page_for(self, user_id: int, channel: str | None = None) -> int | None:
        """The incident number of the latest page sent to the person (on ``channel``)."""
        return await database.run(lifecycle.latest_page_for, user_id, channel)

    async def send_test(self, user_id: int) -> tuple[Channel, ...]:
        """Queue a test page to every channel that reaches the person; returns those channels."""
        _, channels = await database.run(lifecycle.queue_test_pages, user_id, self.config, self.clock())
        if channels:
            self.notify_queued()
        return channels

    async def inspect_action_token(self, token: str) -> action_tokens.TokenView:
        """What an email/push action link stands for; changes nothing."""
        return await database.run(action_tokens.inspect_token, token, self.clock())

    async def act_with_token(self, token: str) -> tuple[action_tokens.TokenView, ActionOutcome | None]:
        """Use an action link once: of concurrent uses, exactly one acts (see action_tokens)."""
        view, outcome = await database.run(action_tokens.act_with_token, token, self.clock())
        if outcome is not None and outcome.changed:
            self.notify_queued()
        return view, outcome

    async def resolve_open(self, dedup_key: str, actor: Actor) -> ActionOutcome | None:
        """Resolve the open incident with ``dedup_key``; None when there is none."""
        number = await database.run(lifecycle.open_incident_id, dedup_key)
        return await self.resolve(number, actor) if number is not None else None

    async def act(self, number: int, action: Action, actor: Actor) -> ActionOutcome:
        """``acknowledge`` or ``resolve``, as ``action`` says."""
        outcome = await database.run(lifecycle.transition, number, action, actor, self.clock())
        if outcome.changed:
            self.notify_queued()
        return outcome

    async def status(self, number: int) -> report.IncidentReport:
        """The incident with every notification (person, channel, status, attempts, provider
        id, last error, times) and its timeline. Raises IncidentNotFound."""
        return await database.run(_report, number)

    async def list_open(self, team: str | None = None, limit: int = 50) -> list[Incident]:
        return await self.list_incidents(None, team, limit)

    async def list_incidents(self, statuses, team: str | None = None, limit: int = 50) -> list[Incident]:
        return await database.run(report.find_incidents, statuses, team, limit)

    async def escalate_due(self, limit: int = 50) -> int:
        """Take every escalation step that is due now; returns how many pages were queued."""
        now = self.clock()
        queued = 0
        for incident_id in await database.run(lifecycle.due_incident_ids, now, limit):
            queued += await database.run(lifecycle.escalate_if_due, incident_id, self.config, now)
        if queued:
            self.notify_queued()
        return queued

    async def claim_due_notifications(self, worker_id: str, limit: int) -> list[outbox.Delivery | outbox.TeamPostDelivery]:
        """Claim a batch of pages to people and posts to team channels; see the outbox."""
        return await database.run(outbox.claim_due_notifications, worker_id, limit, self.config, self.clock())

    async def record_outcomes(
        self, worker_id: str, results: list[tuple[outbox.Delivery | outbox.TeamPostDelivery, outbox.DeliveryOutcome]],
    ):
        """Record a batch of send results; see ``outbox.record_outcomes``."""
        return await database.run(outbox.record_outcomes, worker_id, results, self.config, self.clock())

    async def record_receipt(self, provider_id: str, status: DeliveryStatus, error: str | None = None) -> bool:
        """A provider's later word on a send (SENT → DELIVERED or FAILED), by provider id."""
        return await database.run(outbox.record_receipt, provider_id, status, error, self.clock())

    async def answer_once(self, identity: str, run: Callable[[], Awaitable[str]], busy: str) -> str:
        """Run a provider webhook identified by ``identity`` once, across instances; a replay
        within a day gets the first answer and changes nothing (see webhook_replays)."""
        return await webhook_replays.answer_once(identity, run, busy, self.clock())

    async def queue_stats(self) -> tuple[int, float]:
        """(notifications due and waiting, seconds the oldest has waited)."""
        return await database.run(outbox.queue_stats, self.clock())

    async def release_claims(self, worker_id: str, deliveries: list[outbox.Delivery | outbox.TeamPostDelivery]) -> int:
        return await database.run(outbox.release_claims, worker_id, deliveries, self.clock())


def _report(number: int) -> report.IncidentReport:
    incident = Incident.get_or_none(Incident.id == number)
    if incident is None:
        raise IncidentNotFound(number)
    return report.incident_report(incident)
