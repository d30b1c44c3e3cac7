"""The incident state changes, as synchronous transactions (run inside ``database.run``).

``incidents.service`` is the async API over these; nothing else should call them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from peewee import Field, IntegrityError

from incidents import alert_groups
from incidents.channel_traits import ChannelTraits, Reach, TeamChat, default_tiers
from incidents.directory_cache import PagingDirectory, paging_directory
from incidents.escalation import (
    TIER_ORDER,
    EscalationPlan,
    IncidentSnapshot,
    PersonState,
    QueueTier,
    TierState,
    Unreachable,
    plan_escalation,
)
from incidents.intake import TriggerRequest
from incidents.intake.severity import most_severe
from incidents.people import reachable_by, reachable_channels
from incidents.routing import Route, Teams, route
from incidents.routing_store import key_binding
from incidents.schedule_paging import ScheduleTurn, fresh_turns, record_turns, with_schedules
from incidents.team_posts import queue_posts_to, queue_status_posts
from incidents.tiers import ChannelEscalationConfig
from storage.bulk import insert_returning, insert_rows, update_row
from storage.database import database, lock_rows, lock_rows_sql, write_transaction
from storage.enums import (
    OPEN_INCIDENT_STATUSES,
    Action,
    Channel,
    DeliveryStatus,
    EventKind,
    IncidentStatus,
    NotificationKind,
    Priority,
    Tier,
    surface_label,
)
from storage.models import ApiKey, Incident, IncidentEvent, NotificationLog, Team, TeamMember, User
from storage.rows import columns_of, from_row


class IncidentNotFound(LookupError):
    def __init__(self, number: int | str):
        super().__init__(f"no incident #{number}")
        self.number = number


class NotAllowed(PermissionError):
    """The person is neither on the incident's team nor paged for it."""

    def __init__(self, number: int, name: str):
        super().__init__(f"{name} is neither on the team of #{number} nor paged for it")
        self.number = number


class UnknownTeam(LookupError):
    """A team a command or query names does not exist. Intake never raises it: an alert naming
    an unknown team is routed (``incidents.routing``)."""

    def __init__(self, name: str):
        super().__init__(f"no team named {name!r}")
        self.name = name


@dataclass(frozen=True)
class Actor:
    """Who acts and through which surface (a Channel value, or API / ALERTMANAGER / CLI)."""

    name: str
    via: str
    user_id: int | None = None


@dataclass(frozen=True)
class EngineConfig:
    """``enabled_channels``: the channels this process sends on. ``channel_traits``: the traits
    of every channel Ackbot knows, enabled or not (rows and tiers name channels switched off
    since), in the order a person's default tiers list them."""

    enabled_channels: frozenset[Channel]
    channel_traits: Mapping[Channel, ChannelTraits]
    tier_timeout: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    lease: timedelta = timedelta(seconds=60)
    action_link_ttl: timedelta = timedelta(hours=24)
    handoff_lead: timedelta = timedelta(minutes=15)
    # Longest a trigger may be expected to take before intake keeps the alert in the inbox
    # instead, and answers at once (``incidents.intake_pace``, ``incidents.intake_inbox``).
    intake_wait: timedelta = timedelta(milliseconds=250)

    def __post_init__(self) -> None:
        undeclared = self.enabled_channels - set(self.channel_traits)
        if undeclared:
            raise ValueError(f"no traits declared for the enabled channels {sorted(undeclared)}")

    @property
    def reach(self) -> dict[Channel, Reach]:
        """Each enabled channel and the contact detail it needs."""
        return {channel: self.channel_traits[channel].reach for channel in self.enabled_channels}

    @property
    def team_chats(self) -> dict[Channel, TeamChat]:
        """Each enabled channel that posts team cards, and the team chat channel it posts to."""
        return {
            channel: traits.team_chat for channel, traits in self.channel_traits.items()
            if traits.team_chat is not None and channel in self.enabled_channels
        }

    @property
    def default_tiers(self) -> ChannelEscalationConfig:
        return default_tiers(self.channel_traits)


def available_actions(status: str) -> tuple[Action, ...]:
    """What can still be done to an incident in ``status``: the buttons and links to offer."""
    if status == IncidentStatus.TRIGGERED:
        return (Action.ACKNOWLEDGE, Action.RESOLVE)
    if status == IncidentStatus.ACKNOWLEDGED:
        return (Action.RESOLVE,)
    return ()


def record_event(incident_id, kind, message, now, user_id=None, channel=None) -> None:
    insert_rows(IncidentEvent, [
        {"incident": incident_id, "kind": kind, "message": message, "user": user_id, "channel": channel, "created_at": now}
    ])


# --- trigger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Triggered:
    """What a trigger did: the incident, whether it was opened now (not a repeat), the name of
    its team (None: nobody is paged) and how that team was chosen (the routing reason)."""

    incident: Incident
    created: bool
    team_name: str | None
    reason: str


def trigger(request: TriggerRequest, config: EngineConfig, now: datetime, key: ApiKey | None = None) -> Triggered:
    """Open an incident, routed to a team (see ``incidents.routing``), and page its first level;
    or, when an open incident has the same dedup key, count the repeat on it and page nobody.
    Never refuses for want of a team."""
    return trigger_together([(request, key)], config, now)[0]


def trigger_together(
    requests: Sequence[tuple[TriggerRequest, ApiKey | None]], config: EngineConfig, now: datetime,
    inside: Callable[[], None] = lambda: None,
) -> list[Triggered]:
    """``trigger`` for each (request, its intake key), in order, in one write transaction: all
    of them or, when one fails, none (group commit, ``incidents.group_commit``). ``inside`` runs
    in that transaction too, first; what it raises undoes them all."""
    try:
        return _trigger_once(requests, config, now, inside)
    except IntegrityError:
        # Another instance opened the same dedup key between our look-up and insert.
        return _trigger_once(requests, config, now, inside)


def _trigger_once(
    requests: Sequence[tuple[TriggerRequest, ApiKey | None]], config: EngineConfig, now: datetime,
    inside: Callable[[], None],
) -> list[Triggered]:
    # Everything that only reads (routing, the team, its levels, schedules and people) is read
    # before the write transaction: on SQLite every statement inside it holds the one write lock
    # that all intake waits on. Inside, only the dedup key is looked up again. Those reads come
    # from the directory kept in memory (``incidents.directory_cache``).
    directory = paging_directory()
    table, teams = directory.routing()
    routed = []
    for request, key in requests:
        chosen = route(request, table, teams, key_binding(key, teams) if key is not None else None)
        repeat = request.dedup_key is not None and open_incident_id(request.dedup_key) is not None
        routed.append((request, chosen, None if repeat else first_page(chosen, config, now, directory)))
    with write_transaction():
        inside()
        return [
            _open_or_repeat(request, chosen, prepared, teams, config, now, directory)
            for request, chosen, prepared in routed
        ]


def _open_or_repeat(
    request: TriggerRequest, chosen: Route, prepared: FirstPage | None, teams: Teams, config: EngineConfig,
    now: datetime, directory: PagingDirectory,
) -> Triggered:
    """Inside the write transaction: count a repeat on the open incident with the request's
    dedup key, else open one (``prepared``: its first page, worked out before)."""
    if request.dedup_key:
        existing = _open_incident_locked(request.dedup_key)
        if existing is not None:
            return _repeat(existing, request, chosen, teams, now)
    return _open(request, chosen, prepared or first_page(chosen, config, now, directory), now)


def _open_incident_locked(dedup_key: str) -> Incident | None:
    """The open incident with ``dedup_key``, its row locked for this transaction (hand-written:
    in an alert storm every notification reads it)."""
    row = database.execute_sql(
        f'SELECT {columns_of(Incident)} FROM "incident" WHERE "open_dedup_key" = {database.param}{lock_rows_sql()}',
        [dedup_key],
    ).fetchone()
    return from_row(Incident, row)[0] if row else None


@dataclass(frozen=True)
class FirstPage:
    """What opening an incident routed to ``team`` pages (``plan``, with its levels' schedule
    ``turns``, the ``names`` of the people they give and the team's chat ``posts``), worked out
    from reads alone before the incident exists."""

    team: Team | None
    plan: EscalationPlan
    turns: list[ScheduleTurn]
    names: dict[int, str]
    posts: list[tuple[Channel, str, str | None]]


def first_page(chosen: Route, config: EngineConfig, now: datetime, directory: PagingDirectory) -> FirstPage:
    """The ``FirstPage`` of an incident opened ``now`` for ``chosen``. Only reads."""
    team = directory.team(chosen.team) if chosen.team else None
    team_id = team.id if team else None
    snapshot, turns, names = _snapshot(
        None, team_id, IncidentStatus.TRIGGERED, _FIRST_LEVEL, None, config, now, directory
    )
    plan = plan_escalation(snapshot, now, config.tier_timeout)
    return FirstPage(team, plan, turns, names, directory.team_posts(team, config.team_chats) if team else [])


_FIRST_LEVEL: int = Incident.escalation_level.default


def _open(request: TriggerRequest, chosen: Route, first: FirstPage, now: datetime) -> Triggered:
    """Insert the incident as ``first`` pages it, with its pages, timeline and team posts: one
    statement each."""
    team, plan = first.team, first.plan
    body, alert_count = request.body, 1
    if request.group is not None:
        state = alert_groups.first_state(request.group)
        body = alert_groups.render_body(request.body, state, request.group.left_out)
        alert_count = max(state.seen, 1)
    # RETURNING: the answer is the row as stored, read inside the transaction (once it has
    # committed, it must not depend on the database answering again: a 5xx then would make the
    # sender open it twice).
    incident = insert_returning(Incident, dict(
        title=request.title, body=body, priority=chosen.priority, service=chosen.service, team=team,
        dedup_key=request.dedup_key, open_dedup_key=request.dedup_key, alert_count=alert_count,
        dashboard_url=request.dashboard_url, escalation_level=plan.level, escalated_at=plan.escalated_at,
        next_escalation_at=plan.next_check_at, triggered_at=now, created_at=now, updated_at=now,
    ))
    if request.group is not None:
        alert_groups.record_first_alerts(incident.id, request.group, now)
    if team is None:
        events = [
            _event(incident.id, EventKind.TRIGGERED, f"Triggered: {incident.title}", now, None),
            _event(incident.id, EventKind.UNREACHABLE, chosen.reason, now, None),
        ]
    else:
        events = [_event(incident.id, EventKind.TRIGGERED, f"Triggered: {incident.title}. {chosen.reason}", now, None)]
        queue_posts_to(incident.id, team.id, first.posts, now)
    pages, paging_events = _plan_rows(incident.id, _FIRST_LEVEL, None, plan, first.turns, first.names, now)
    _insert(pages, events + paging_events)
    return Triggered(incident, True, team.name if team else None, chosen.reason)


def open_incident_id(dedup_key: str) -> int | None:
    # Hand-written, as the locked read in ``_open_incident_locked``: every trigger with a key asks.
    row = database.execute_sql(
        f'SELECT "id" FROM "incident" WHERE "open_dedup_key" = {database.param}', [dedup_key]
    ).fetchone()
    return row[0] if row else None


def update_text(number: int, title: str | None, body: str | None, actor: Actor, now: datetime) -> tuple[Incident, bool]:
    """Replace the title and/or body of #number as the sender asks (Opsgenie's message and
    description updates, which Alertmanager sends with every notification): when that changes
    anything, the timeline says so and the team's cards are redrawn. Returns (incident,
    changed). Raises IncidentNotFound."""
    with write_transaction():
        incident = lock_rows(Incident.select().where(Incident.id == number)).first()
        if incident is None:
            raise IncidentNotFound(number)
        changes: dict[Field, str] = {
            field: value for field, value in ((Incident.title, title), (Incident.body, body))
            if value is not None and value != getattr(incident, field.name)
        }
        if not changes:
            return incident, False
        Incident.update({**changes, Incident.updated_at: now}).where(Incident.id == number).execute()
        what = " and ".join(field.name for field in changes)
        message = f"{what.capitalize()} updated by {actor.name} via {surface_label(actor.via)}"
        record_event(number, EventKind.UPDATED, message, now, channel=actor.via)
        queue_status_posts(number, now)
    return Incident.get_by_id(number), True


def _repeat(incident: Incident, request: TriggerRequest, chosen: Route, teams: Teams, now: datetime) -> Triggered:
    changes: dict[Field, Any] = {Incident.updated_at: now}
    if request.group is None:
        incident.alert_count += 1  # the row is locked: no other writer moves the count meanwhile
        changes[Incident.alert_count] = incident.alert_count
        message = "Alert repeated (same dedup key): nobody paged again"
    else:
        state = alert_groups.record_alerts(incident.id, request.group, now)
        if state.changed:
            incident.alert_count = max(state.seen, 1)
            incident.body = alert_groups.render_body(request.body, state, request.group.left_out)
            changes.update({Incident.alert_count: incident.alert_count, Incident.body: incident.body})
        message = alert_groups.describe_change(state)
        raised = most_severe((Priority(incident.priority), chosen.priority))
        assert raised is not None  # the most severe of two
        if raised != incident.priority:
            incident.priority = changes[Incident.priority] = raised
            message += f"; priority raised to {raised}"
    incident.updated_at = now
    update_row(Incident, incident.id, changes)
    record_event(incident.id, EventKind.REPEATED, message, now)
    return Triggered(incident, False, teams.name_of(incident.team_id), message)


# --- escalation ------------------------------------------------------------------------------


def escalate(incident: Incident, config: EngineConfig, now: datetime) -> int:
    """Plan and apply the incident's next escalation steps; returns how many pages were queued."""
    snapshot, turns, names = _snapshot(
        incident.id, incident.team_id, IncidentStatus(incident.status), incident.escalation_level,
        incident.escalated_at, config, now, paging_directory(),
    )
    plan = plan_escalation(snapshot, now, config.tier_timeout)
    pages, events = _plan_rows(incident.id, incident.escalation_level, incident.escalated_at, plan, turns, names, now)
    _insert(pages, events)
    Incident.update(
        escalation_level=plan.level, escalated_at=plan.escalated_at,
        next_escalation_at=plan.next_check_at, updated_at=now,
    ).where(Incident.id == incident.id).execute()
    if plan.level != incident.escalation_level:
        queue_status_posts(incident.id, now)  # the team's cards show the level
    return len(pages)


def _plan_rows(
    incident_id: int, level: int, escalated_at: datetime | None, plan: EscalationPlan,
    turns: list[ScheduleTurn], names: Mapping[int, str], now: datetime,
) -> tuple[list[dict], list[dict]]:
    """The pages and timeline events that carry out ``plan`` for an incident that was at
    ``level`` since ``escalated_at``; records the schedule turns of the levels it pages."""
    paged_levels = [*plan.passed_over, plan.level] if plan.escalated_at != escalated_at else []
    pages, events = [], record_turns(incident_id, fresh_turns(turns, paged_levels), names, now)
    for passed in plan.passed_over:
        events.append(_event(incident_id, EventKind.ESCALATED, f"Level {passed} passed over: nobody to page", now, None))
    for step in plan.steps:
        name = names.get(step.user_id, step.user_id)
        if isinstance(step, QueueTier):
            pages += [_page(incident_id, step, channel, now) for channel in step.channels]
            channel_list = ", ".join(channel.lower() for channel in step.channels)
            message = f"Paging {name} on {channel_list} (level {step.level}, {step.tier})"
            events.append(_event(incident_id, EventKind.NOTIFIED, message, now, step.user_id))
        elif isinstance(step, Unreachable):
            message = f"No channel can reach {name} (level {step.level})"
            events.append(_event(incident_id, EventKind.UNREACHABLE, message, now, step.user_id))
    if plan.level != level:
        events.append(_event(incident_id, EventKind.ESCALATED, f"Escalated to level {plan.level}", now, None))
    return pages, events


def _insert(pages: list[dict], events: list[dict]) -> None:
    insert_rows(NotificationLog, pages)
    insert_rows(IncidentEvent, events)


def _page(incident_id: int, step: QueueTier, channel: Channel, now: datetime) -> dict:
    return {
        "incident": incident_id, "user": step.user_id, "channel": channel, "status": DeliveryStatus.QUEUED,
        "tier": step.tier, "kind": NotificationKind.ALERT, "escalation_level": step.level,
        "queued_at": now, "next_attempt_at": now, "created_at": now,
    }


def _event(incident_id: int, kind: EventKind, message: str, now: datetime, user_id: int | None) -> dict:
    return {"incident": incident_id, "kind": kind, "message": message, "user": user_id, "created_at": now}


def build_snapshot(incident: Incident, config: EngineConfig, now: datetime):
    """The incident's state for the policy, and its levels' schedule turns (see
    ``schedule_paging``): (IncidentSnapshot, [ScheduleTurn])."""
    snapshot, turns, _ = _snapshot(
        incident.id, incident.team_id, IncidentStatus(incident.status), incident.escalation_level,
        incident.escalated_at, config, now, paging_directory(),
    )
    return snapshot, turns


def _snapshot(
    incident_id: int | None, team_id: int | None, status: IncidentStatus, level: int,
    escalated_at: datetime | None, config: EngineConfig, now: datetime, directory: PagingDirectory,
) -> tuple[IncidentSnapshot, list[ScheduleTurn], dict[int, str]]:
    """``build_snapshot`` from the incident's columns (``incident_id`` None: one not opened
    yet, so nothing paged or recorded), and the names of the people its levels and turns give."""
    levels, turns = with_schedules(incident_id, team_id, directory.levels(team_id), now, directory)
    user_ids = list(dict.fromkeys(user_id for level in levels for user_id in level.user_ids))
    on_call = [turn.user_id for turn in turns if turn.user_id is not None and turn.user_id not in user_ids]
    held, names = directory.contact_details(user_ids + on_call)
    reach = reachable_by(held, config.reach)
    paged = _paged_tiers(incident_id) if incident_id is not None else {}
    tiers = directory.tiers(user_ids, config.default_tiers) if user_ids else {}
    people = tuple(
        PersonState(user_id, tiers[user_id], reach[user_id], paged.get(user_id, ())) for user_id in user_ids
    )
    snapshot = IncidentSnapshot(status=status, level=level, escalated_at=escalated_at, levels=levels, people=people)
    return snapshot, turns, names


def _paged_tiers(incident_id: int) -> dict[int, tuple[TierState, ...]]:
    rows = NotificationLog.select(
        NotificationLog.user, NotificationLog.tier, NotificationLog.status, NotificationLog.queued_at
    ).where((NotificationLog.incident == incident_id) & (NotificationLog.kind == NotificationKind.ALERT))
    grouped: dict[tuple[int, Tier], list] = {}
    for row in rows:
        grouped.setdefault((row.user_id, Tier(row.tier)), []).append(row)
    paged: dict[int, list[TierState]] = {}
    for (user_id, tier), tier_rows in grouped.items():
        state = TierState(
            tier, min(row.queued_at for row in tier_rows), tuple(DeliveryStatus(row.status) for row in tier_rows)
        )
        paged.setdefault(user_id, []).append(state)
    return {
        user_id: tuple(sorted(states, key=lambda state: TIER_ORDER.index(state.tier)))
        for user_id, states in paged.items()
    }


def escalate_if_due(incident_id: int, config: EngineConfig, now: datetime) -> int:
    """Escalate one incident whose next step is due; a no-op when another process got there first."""
    with write_transaction():
        incident = lock_rows(
            Incident.select().where(
                (Incident.id == incident_id)
                & (Incident.status == IncidentStatus.TRIGGERED)
                & (Incident.next_escalation_at <= now)
            )
        ).first()
        if incident is None:
            return 0
        return escalate(incident, config, now)


def due_incident_ids(now: datetime, limit: int) -> list[int]:
    query = (
        Incident.select(Incident.id)
        .where((Incident.status == IncidentStatus.TRIGGERED) & (Incident.next_escalation_at <= now))
        .order_by(Incident.next_escalation_at)
        .limit(limit)
    )
    return [incident.id for incident in query]


# --- acknowledge and resolve -----------------------------------------------------------------


@dataclass(frozen=True)
class ActionOutcome:
    """What an acknowledge/resolve did. ``changed`` is False when the incident was already in
    that state (or past it); then ``by``/``via``/``at`` say who had done it."""

    incident: Incident
    action: Action
    changed: bool
    by: str | None
    via: str | None
    at: datetime | None


def transition_open(dedup_key: str, action: Action, actor: Actor, config: EngineConfig, now: datetime) -> ActionOutcome | None:
    """``transition`` of the open incident with ``dedup_key``; None when there is none."""
    number = open_incident_id(dedup_key)
    return transition(number, action, actor, config, now) if number is not None else None


def transition(number: int, action: Action, actor: Actor, config: EngineConfig, now: datetime) -> ActionOutcome:
    """Acknowledge or resolve #number. Raises IncidentNotFound, NotAllowed."""
    settled = _already_settled(number, action, actor)
    if settled is not None:
        return settled
    with write_transaction():
        incident = lock_rows(Incident.select().where(Incident.id == number)).first()
        if incident is None:
            raise IncidentNotFound(number)
        if actor.user_id is not None and not involved(incident, actor.user_id):
            raise NotAllowed(number, actor.name)
        if not _can(action, IncidentStatus(incident.status)):
            return _unchanged(incident, action)
        _apply_transition(incident, action, actor, now)
        NotificationLog.update(status=DeliveryStatus.CANCELLED, lease_expires_at=None).where(
            (NotificationLog.incident == number)
            & (NotificationLog.status == DeliveryStatus.QUEUED)
            & (NotificationLog.kind == NotificationKind.ALERT)
        ).execute()
        verb = "Acknowledged" if action == Action.ACKNOWLEDGE else "Resolved"
        record_event(
            number, EventKind.ACKNOWLEDGED if action == Action.ACKNOWLEDGE else EventKind.RESOLVED,
            f"{verb} by {actor.name} via {surface_label(actor.via)}", now, user_id=actor.user_id, channel=actor.via,
        )
        _queue_status_notices(number, actor, config.channel_traits, now)
        queue_status_posts(number, now)
        return ActionOutcome(Incident.get_by_id(number), action, True, actor.name, actor.via, now)  # as committed


def _already_settled(number: int, action: Action, actor: Actor) -> ActionOutcome | None:
    """The answer to a click that can change nothing (the incident is already in that state or
    past it), read without taking the write lock; None when the action may apply, which the
    write transaction then decides. One hand-written statement: most clicks on a busy incident
    are repeats, and they are answered on this path."""
    row = database.execute_sql(_settled_sql(database.param), (actor.user_id, actor.user_id, number)).fetchone()
    if row is None:
        raise IncidentNotFound(number)
    incident, (involved,) = from_row(Incident, row)
    return settled_outcome(incident, bool(involved), number, action, actor)


@cache
def _settled_sql(param: str) -> str:
    return (
        f"SELECT {columns_of(Incident, 'i')}, {actor_involved_sql(param)}"
        f' FROM "{Incident._meta.table_name}" i WHERE i.id = {param}'
    )


def actor_involved_sql(param: str) -> str:
    """An SQL expression: whether the user (its two parameters, both the user's id) is on the team
    of the incident row ``i`` or was paged for it, as ``involved`` decides."""
    return (
        f'(EXISTS (SELECT 1 FROM "{TeamMember._meta.table_name}" m'
        f" WHERE m.team_id = i.team_id AND m.user_id = {param})"
        f' OR EXISTS (SELECT 1 FROM "{NotificationLog._meta.table_name}" n'
        f" WHERE n.incident_id = i.id AND n.user_id = {param}))"
    )


def settled_outcome(incident: Incident, involved: bool, number: int, action: Action, actor: Actor) -> ActionOutcome | None:
    """The answer to a click on ``incident`` (read without the write lock; ``involved``: the
    actor may act on it, as ``actor_involved_sql`` says) when it can change nothing; None when
    the action may apply. Raises NotAllowed."""
    if actor.user_id is not None and not involved:
        raise NotAllowed(number, actor.name)
    if _can(action, IncidentStatus(incident.status)):
        return None
    return _unchanged(incident, action)


def involved(incident: Incident, user_id: int) -> bool:
    """On the incident's team, or paged for it: the people who may act on it."""
    on_team = incident.team_id is not None and TeamMember.select().where(
        (TeamMember.team == incident.team_id) & (TeamMember.user == user_id)
    ).exists()
    return on_team or NotificationLog.select().where(
        (NotificationLog.incident == incident.id) & (NotificationLog.user == user_id)
    ).exists()


def latest_page_for(user_id: int, channel: str | None) -> int | None:
    """The incident of the latest page sent to the person (on ``channel``, when given)."""
    query = NotificationLog.select(NotificationLog.incident).where(
        (NotificationLog.user == user_id) & (NotificationLog.kind == NotificationKind.ALERT)
    )
    if channel:
        query = query.where(NotificationLog.channel == channel)
    row = query.order_by(NotificationLog.id.desc()).first()
    return row.incident_id if row else None


def _can(action: Action, status: IncidentStatus) -> bool:
    if action == Action.ACKNOWLEDGE:
        return status == IncidentStatus.TRIGGERED
    return status in OPEN_INCIDENT_STATUSES


def _unchanged(incident: Incident, action: Action) -> ActionOutcome:
    if incident.status == IncidentStatus.RESOLVED:
        return ActionOutcome(
            incident, action, False, incident.resolved_by_name, incident.resolved_via, incident.resolved_at
        )
    return ActionOutcome(
        incident, action, False, incident.acknowledged_by_name, incident.acknowledged_via, incident.acknowledged_at
    )


def _apply_transition(incident: Incident, action: Action, actor: Actor, now: datetime) -> None:
    if action == Action.ACKNOWLEDGE:
        changes = {
            Incident.status: IncidentStatus.ACKNOWLEDGED, Incident.acknowledged_at: now,
            Incident.acknowledged_by: actor.user_id, Incident.acknowledged_by_name: actor.name,
            Incident.acknowledged_via: actor.via,
        }
    else:
        changes = {
            Incident.status: IncidentStatus.RESOLVED, Incident.resolved_at: now,
            Incident.resolved_by: actor.user_id, Incident.resolved_by_name: actor.name,
            Incident.resolved_via: actor.via, Incident.open_dedup_key: None,
        }
    changes.update({Incident.next_escalation_at: None, Incident.updated_at: now})
    Incident.update(changes).where(Incident.id == incident.id).execute()


def _queue_status_notices(
    incident_id: int, actor: Actor, traits: Mapping[Channel, ChannelTraits], now: datetime
) -> None:
    """One STATUS notice per person and channel an alert reached (or is reaching) where the
    channel's traits call for one, carrying the reference of the message to edit where the
    channel posted one."""
    reached = (
        NotificationLog.select()
        .where(
            (NotificationLog.incident == incident_id)
            & (NotificationLog.kind == NotificationKind.ALERT)
            & NotificationLog.status.in_([DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED])
        )
        .order_by(NotificationLog.id)
    )
    latest: dict[tuple[int, str], NotificationLog] = {}
    for row in reached:
        latest[(row.user_id, row.channel)] = row
    notices = [
        {
            "incident": incident_id, "user": user_id, "channel": channel, "status": DeliveryStatus.QUEUED,
            "kind": NotificationKind.STATUS, "escalation_level": row.escalation_level,
            "message_reference": row.message_reference, "queued_at": now, "next_attempt_at": now, "created_at": now,
        }
        for (user_id, channel), row in latest.items()
        if traits[Channel(channel)].notifies(acted_here=user_id == actor.user_id and channel == actor.via)
    ]
    if notices:
        NotificationLog.insert_many(notices).execute()


# --- test pages ------------------------------------------------------------------------------


def queue_test_pages(user_id: int, config: EngineConfig, now: datetime) -> tuple[int, tuple[Channel, ...]]:
    """Queue a TEST page to every channel that reaches the person, under a resolved INFO
    incident of its own (so it shows no buttons and pages nobody else). Returns (incident,
    channels); no channels means nothing reaches them and nothing was queued."""
    channels = tuple(sorted(reachable_channels([user_id], config.reach)[user_id]))
    with write_transaction():
        user = User.get_by_id(user_id)
        incident = Incident.create(
            title=f"Test page for {user.name}", body="This is a test. Nothing is wrong.", priority="INFO",
            status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by_name=user.name, resolved_via="TEST",
            triggered_at=now, created_at=now, updated_at=now,
        )
        if channels:
            NotificationLog.insert_many([
                {
                    "incident": incident.id, "user": user_id, "channel": channel, "kind": NotificationKind.TEST,
                    "queued_at": now, "next_attempt_at": now, "created_at": now,
                }
                for channel in channels
            ]).execute()
        record_event(incident.id, EventKind.NOTIFIED, f"Test page for {user.name} on {len(channels)} channel(s)", now, user_id=user_id)
    return incident.id, channels
