"""The one API every surface calls: trigger, acknowledge, resolve, status, list_open, and the
outbox operations the dispatcher uses.

Every method runs its queries through ``database.run``, so none blocks the event loop, and takes
the time from the injected clock, so tests run on a fixed one. The stores a surface needs besides
(API keys, push links, phone look-ups, Teams accounts) hang on the service, sharing its clock:
surfaces reach the database only through these.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from incidents import (
    action_tokens,
    api_keys,
    calendar_links,
    escalation,
    handoffs,
    heartbeats,
    ical_feeds,
    inbox_store,
    lifecycle,
    oncall_report,
    outbox,
    phone_lookup,
    push_links,
    report,
    routing,
    routing_store,
    shift_overrides,
    teams_connections,
    teams_views,
    webhook_replays,
)
from incidents.group_commit import GroupCommit
from incidents.inbox_store import ActByKey, Signal
from incidents.intake import TriggerRequest
from incidents.intake_inbox import IntakeInbox
from incidents.intake_pace import IntakePace
from incidents.lifecycle import ActionOutcome, Actor, EngineConfig, IncidentNotFound, NotAllowed, UnknownTeam
from incidents.status_view import ListView, StatusView, build_list_view, build_status_view
from storage.database import database, is_postgres, probe_writable
from storage.enums import Action, Channel, DeliveryStatus
from storage.fields import utcnow
from storage.models import ApiKey, Incident, User

# How often each process looks for hand-offs to announce (the notices themselves are once each).
HANDOFF_CHECK_INTERVAL = timedelta(seconds=30)

__all__ = [
    "KEPT", "ActByKey", "ActionOutcome", "Actor", "EngineConfig", "IncidentNotFound", "IncidentService", "Kept",
    "NotAllowed", "TriggerOutcome", "UnknownTeam",
]


class TriggerOutcome:
    """The incident a trigger opened (``created``) or repeated onto (not ``created``), the name
    of its team (None: no team, nobody paged) and ``reason``: how the team was chosen, or for a
    repeat what changed, as the timeline says it."""

    def __init__(self, incident: Incident, created: bool, team_name: str | None = None, reason: str = ""):
        self.incident = incident
        self.created = created
        self.team_name = team_name
        self.reason = reason


class Kept:
    """The answer to an intake signal kept in the inbox (``incidents.intake_inbox``): stored,
    worked within moments, in the order it came."""

    def __repr__(self) -> str:
        return "KEPT"


KEPT = Kept()


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
        self._next_handoff_check: datetime | None = None
        self.api_keys = api_keys.ApiKeys(clock)
        self.push_links = push_links.PushLinks(clock)
        self.phones = phone_lookup.PhoneLookup()
        self.teams = teams_connections.TeamsStore(clock)
        self._triggers: GroupCommit[tuple[TriggerRequest, ApiKey | None], lifecycle.Triggered] = GroupCommit(
            lambda batch: database.run(lifecycle.trigger_together, batch, self.config, self.clock())
        )
        self.inbox = IntakeInbox(lambda: self.config, clock, self.notify_queued)
        self.intake_pace = IntakePace()

    def notify_queued(self) -> None:
        self.on_queued()

    async def trigger(self, request: TriggerRequest, key: ApiKey | None = None) -> TriggerOutcome:
        """Open an incident, routed to a team by ``incidents.routing`` (rules, then ``key``'s
        team, then the team the alert names, then the default team), and page its first level;
        or count a repeat of an open incident with the same dedup key (paging nobody). An alert
        naming an unknown team is routed, never refused. Triggers arriving together share a
        write transaction (``incidents.group_commit``); each returns once its own is committed."""
        started = time.monotonic()
        done = await self._triggers.submit((request, key))
        self.intake_pace.record(time.monotonic() - started)
        if done.created:
            self.notify_queued()
        return TriggerOutcome(done.incident, done.created, done.team_name, done.reason)

    async def take_trigger(self, request: TriggerRequest, key: ApiKey | None) -> TriggerOutcome | Kept:
        """What intake routes call: ``trigger``, or, while a trigger would take longer than the
        engine's ``intake_wait`` (``incidents.intake_pace``), or a signal kept with the same dedup
        key still waits in this process's inbox, keep it in the intake inbox, worked within
        moments, and return ``KEPT``."""
        if await self._keep_first(request, key) or (self.inbox.active and await self.inbox.keep_behind(request, key)):
            return KEPT
        return await self.trigger(request, key)

    async def take_act(self, act: ActByKey, key: ApiKey | None) -> ActionOutcome | None | Kept:
        """What intake routes call to acknowledge or resolve by dedup key (None: no incident with
        that key is open), kept in the intake inbox as ``take_trigger`` keeps triggers, and
        behind a signal with the same key that waits in any process's inbox."""
        if await self._keep_first(act, key) or await self.inbox.keep_behind(act, key):
            return KEPT
        outcome = await database.run(lifecycle.transition_open, act.dedup_key, act.action, act.actor, self.config, self.clock())
        if outcome is not None and outcome.changed:
            self.notify_queued()
        return outcome

    async def _keep_first(self, signal: Signal, key: ApiKey | None) -> bool:
        # While the kept signals would take longer than the budget to work, the process is still
        # past what it can write in time: answering with the incident again would only make the
        # answers slow (and page newer alerts before older ones).
        budget = self.config.intake_wait.total_seconds()
        busy = self.inbox.outlasts(budget) or self.intake_pace.too_slow(self._triggers.expected_wait(), budget)
        if not busy:
            return False
        await self.inbox.keep(signal, key)
        return True

    async def stop(self) -> None:
        """Stop the background work intake started (the inbox's worker hands over what is left)."""
        await self.inbox.stop()
        await self.intake_pace.stop()

    async def take_over_intake(self) -> int:
        """Take over (and work) intake signals kept by processes that stopped; how many."""
        return await self.inbox.take_over()

    async def preview_route(self, request: TriggerRequest, key_name: str | None = None) -> routing.Route:
        """Where ``request`` would go if sent now (with the key called ``key_name``); changes
        nothing. Raises LookupError for an unknown key name."""
        return await database.run(_preview_route, request, key_name)

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
        view, outcome = await database.run(action_tokens.act_with_token, token, self.config, self.clock())
        if outcome is not None and outcome.changed:
            self.notify_queued()
        return view, outcome

    async def open_incident_number(self, dedup_key: str) -> int | None:
        """The number of the open incident with ``dedup_key``, or None."""
        return await database.run(lifecycle.open_incident_id, dedup_key)

    async def update_text(self, number: int, actor: Actor, title: str | None = None, body: str | None = None) -> Incident:
        """Replace #number's title and/or body; when that changes them, the timeline says so and
        the team's cards are redrawn. Raises IncidentNotFound."""
        incident, changed = await database.run(lifecycle.update_text, number, title, body, actor, self.clock())
        if changed:
            self.notify_queued()
        return incident

    async def act(self, number: int, action: Action, actor: Actor) -> ActionOutcome:
        """``acknowledge`` or ``resolve``, as ``action`` says."""
        outcome = await database.run(lifecycle.transition, number, action, actor, self.config, self.clock())
        if outcome.changed:
            self.notify_queued()
        return outcome

    async def act_on_card(self, number: int, action: Action, actor: Actor) -> tuple[ActionOutcome, teams_views.CardView]:
        """``act`` from a Teams card, and the card as the actor should now see it, in one
        ``database.run``: a click that can change nothing (most are repeats) is one statement."""
        outcome, view = await database.run(_act_on_card, number, action, actor, self.config, self.clock())
        if outcome.changed:
            self.notify_queued()
        return outcome, view

    async def status(self, number: int) -> report.IncidentReport:
        """The incident with every notification (person, channel, status, attempts, provider
        id, last error, times) and its timeline. Raises IncidentNotFound."""
        return await database.run(_report, number)

    async def status_view(self, number: int, time_zone: str) -> StatusView:
        """What became of every page of #number and what is paged next, in words, with times in
        ``time_zone`` (the reader's). Raises IncidentNotFound."""
        now = self.clock()
        status_report, outlook, names = await database.run(_status_inputs, number, self.config, now)
        return build_status_view(status_report, outlook, names, now, time_zone)

    async def list_view(self, time_zone: str, limit: int = 20) -> ListView:
        """The newest ``limit`` open incidents (and whether there are more) for a reader in ``time_zone``."""
        incidents = await self.list_open(limit=limit + 1)
        return build_list_view(incidents[:limit], len(incidents) > limit, self.clock(), time_zone)

    async def list_open(self, team: str | None = None, limit: int = 50) -> list[Incident]:
        return await self.list_incidents(None, team, limit)

    async def list_incidents(self, statuses, team: str | None = None, limit: int = 50) -> list[Incident]:
        return await database.run(report.find_incidents, statuses, team, limit)

    async def on_call(
        self, target: str | None = None, team: str | None = None, schedule: str | None = None,
        at: datetime | None = None, upcoming: int = 0,
    ) -> list[oncall_report.OnCallLine]:
        """Who is on call at ``at`` (default now; naive: each schedule's local time), with the
        ``upcoming`` shifts after; see ``oncall_report.on_call_report``."""
        return await database.run(
            oncall_report.on_call_report, target, team, schedule, at or self.clock(), upcoming
        )

    async def shifts(self, name: str, start: datetime, end: datetime):
        """(schedule row, [ShiftLine]) between ``start`` and ``end``. Raises UnknownSchedule."""
        return await database.run(oncall_report.shifts_report, name, start, end)

    async def take_shift(self, actor: Actor, schedule: str | None, duration) -> shift_overrides.OverrideView:
        """Put ``actor`` on call now, for ``duration`` or until the current shift ends; the
        person replaced is told. Raises OverrideRefused."""
        view = await database.run(
            shift_overrides.take_shift, actor.user_id, schedule, duration, actor.name,
            self.config, self.clock(),
        )
        self.notify_queued()
        return view

    async def add_override(self, schedule: str, handle: str, start: datetime, end: datetime, by: str):
        """Put ``handle`` on call from ``start`` to ``end`` (aware). Raises UnknownSchedule or
        OverrideRefused."""
        view = await database.run(
            shift_overrides.add_override, schedule, handle, start, end, by, self.config, self.clock(),
        )
        self.notify_queued()
        return view

    async def list_overrides(self, schedule: str | None = None) -> list[shift_overrides.OverrideView]:
        return await database.run(shift_overrides.list_overrides, schedule, self.clock())

    async def remove_override(self, override_id: int) -> shift_overrides.OverrideView | None:
        return await database.run(shift_overrides.remove_override, override_id)

    async def calendar_link(self, name: str) -> str:
        """A new private feed token for the schedule or person ``name`` (the old one stops
        working). Raises calendar_links.UnknownSubject."""
        return await database.run(calendar_links.issue_calendar_link, name, self.clock())

    async def personal_calendar_link(self, user_id: int) -> str:
        """A new private feed token for the person's own shifts (the old one stops working)."""
        return await database.run(calendar_links.issue_person_link, user_id, self.clock())

    async def revoke_calendar_links(self, name: str) -> int:
        return await database.run(calendar_links.revoke_calendar_links, name, self.clock())

    async def calendar_feed(self, token: str) -> calendar_links.Feed | None:
        return await database.run(calendar_links.feed_for_token, token, self.clock())

    async def feeds_due(self, interval: timedelta) -> list[ical_feeds.FeedToLoad]:
        """Calendar feeds not checked within ``interval``."""
        return await database.run(ical_feeds.feeds_due, self.clock(), interval)

    async def feed_people(self):
        return await database.run(ical_feeds.feed_people)

    async def record_feed(self, schedule_id: int, shifts: list[dict] | None, error: str | None) -> None:
        await database.run(ical_feeds.record_feed, schedule_id, shifts, error, self.clock())

    async def feed_states(self) -> dict[str, str]:
        return await database.run(ical_feeds.feed_states)

    async def time_zone_of(self, user_id: int) -> str:
        """The person's IANA time zone (UTC when unknown)."""
        user = await database.run(User.get_or_none, User.id == user_id)
        return user.time_zone if user and user.time_zone else "UTC"

    async def announce_handoffs(self) -> int:
        """Queue the hand-off notices due now (at most every HANDOFF_CHECK_INTERVAL in this
        process); returns how many were queued. Each goes out once across every instance."""
        now = self.clock()
        if self._next_handoff_check is not None and now < self._next_handoff_check:
            return 0
        self._next_handoff_check = now + HANDOFF_CHECK_INTERVAL
        queued = await database.run(handoffs.announce_handoffs, self.config, now)
        if queued:
            self.notify_queued()
        return queued

    async def escalate_due(self, limit: int = 50) -> int:
        """Take every escalation step that is due now; returns how many pages were queued."""
        now = self.clock()
        queued = 0
        for incident_id in await database.run(lifecycle.due_incident_ids, now, limit):
            queued += await database.run(lifecycle.escalate_if_due, incident_id, self.config, now)
        if queued:
            self.notify_queued()
        return queued

    async def check_heartbeats(self, limit: int = 50) -> int:
        """Open an incident for every heartbeat silent past its timeout (one per silence, however
        many processes check at once); returns how many were opened."""
        now = self.clock()
        opened = 0
        for heartbeat_id in await database.run(heartbeats.due_ids_now, now, limit):
            opened += await database.run(heartbeats.expire_now, heartbeat_id, self.config, now) is not None
        if opened:
            self.notify_queued()
        return opened

    async def ping_heartbeat(self, key: str) -> heartbeats.Ping | None:
        """A heartbeat's ping (None: no heartbeat has that key); it resolves the incident its
        silence opened."""
        ping = await database.run(heartbeats.ping_now, key, self.config, self.clock())
        if ping is not None and ping.resolved is not None:
            self.notify_queued()
        return ping

    async def claim_due_notifications(self, worker_id: str, limit: int) -> list[outbox.Delivery | outbox.TeamPostDelivery]:
        """Claim a batch of pages to people and posts to team channels; see the outbox."""
        return await database.run(outbox.claim_due_notifications, worker_id, limit, self.config, self.clock())

    async def record_outcomes(
        self, worker_id: str, results: list[tuple[outbox.Delivery | outbox.TeamPostDelivery, outbox.DeliveryOutcome]],
    ):
        """Record a batch of send results; see ``outbox.record_outcomes``."""
        return await database.run(outbox.record_outcomes, worker_id, results, self.config, self.clock())

    async def record_and_claim(
        self, worker_id: str, results: list[tuple[outbox.Delivery | outbox.TeamPostDelivery, outbox.DeliveryOutcome]],
        limit: int,
    ):
        """Record a batch of send results and claim the next batch; see ``outbox.record_and_claim``."""
        return await database.run(outbox.record_and_claim, worker_id, results, limit, self.config, self.clock())

    async def record_receipt(self, provider_id: str, status: DeliveryStatus, error: str | None = None) -> bool:
        """A provider's later word on a send (SENT → DELIVERED or FAILED), by provider id."""
        return await database.run(outbox.record_receipt, provider_id, status, error, self.clock())

    async def answer_once(self, identity: str, run: Callable[[], Awaitable[str]], busy: str) -> str:
        """Run a provider webhook identified by ``identity`` once, across instances; a replay
        within a day gets the first answer and changes nothing (see webhook_replays)."""
        return await webhook_replays.answer_once(identity, run, busy, self.clock())

    async def intake_waiting(self) -> int:
        """Intake signals kept and not yet worked, in every process's inbox."""
        return await database.run(inbox_store.waiting)

    async def queue_stats(self) -> tuple[int, float]:
        """(notifications due and waiting, seconds the oldest has waited)."""
        return await database.run(outbox.queue_stats, self.clock())

    async def database_engine(self) -> str:
        """"postgresql" or "sqlite", once the database answered a query; raises what the driver
        raised when it did not."""
        await database.run(database.execute_sql, "SELECT 1")
        return "postgresql" if is_postgres() else "sqlite"

    async def probe_writable(self) -> None:
        """Succeeds when the database can be written again after an outage (see
        ``storage.database.probe_writable``)."""
        await database.run(probe_writable)

    async def release_claims(self, worker_id: str, deliveries: list[outbox.Delivery | outbox.TeamPostDelivery]) -> int:
        return await database.run(outbox.release_claims, worker_id, deliveries, self.clock())


def _preview_route(request: TriggerRequest, key_name: str | None) -> routing.Route:
    key = None
    table, teams = routing_store.load_routing()
    if key_name is not None:
        api_key = ApiKey.get_or_none(ApiKey.name == key_name)
        if api_key is None:
            raise LookupError(f"no API key named {key_name!r}")
        key = routing_store.key_binding(api_key, teams)
    return routing.route(request, table, teams, key)


def _act_on_card(number: int, action: Action, actor: Actor, config: EngineConfig,
                 now: datetime) -> tuple[ActionOutcome, teams_views.CardView]:
    settled = teams_views.settled_click(number, action, actor)
    if settled is not None:
        return settled
    outcome = lifecycle.transition(number, action, actor, config, now)
    return outcome, teams_views.card_view(outcome.incident, actor.user_id)


def _report(number: int) -> report.IncidentReport:
    incident = Incident.get_or_none(Incident.id == number)
    if incident is None:
        raise IncidentNotFound(number)
    return report.incident_report(incident)


def _status_inputs(
    number: int, config: EngineConfig, now: datetime
) -> tuple[report.IncidentReport, escalation.Outlook, dict[int, str]]:
    """The report, the escalation outlook and the names of the people it mentions."""
    incident = Incident.get_or_none(Incident.id == number)
    if incident is None:
        raise IncidentNotFound(number)
    snapshot, _ = lifecycle.build_snapshot(incident, config, now)
    outlook = escalation.outlook(snapshot, config.tier_timeout)
    user_ids = outlook.level.user_ids if outlook.level else ()
    names = dict(User.select(User.id, User.name).where(User.id.in_(list(user_ids))).tuples()) if user_ids else {}
    return report.incident_report(incident), outlook, names
