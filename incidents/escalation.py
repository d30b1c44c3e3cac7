"""The escalation policy: given an incident's state and the time, what to page next.

Pure: no I/O, no clock of its own. ``plan_escalation`` is called whenever an incident is created,
a page fails for good, or a deadline it returned passes; the engine applies the plan.

Rules (DESIGN.md "Escalation"):
- People are paged by escalation level: level 1 first; when the incident is still unacknowledged
  ``delay_minutes`` after a level was paged, the next level is paged — at once when every page
  to everyone at the level has failed and no channel is left to try.
- Each person is paged tier by tier (primary channels in parallel, then secondary, then
  fallback), using only channels that can reach them. The next tier goes out when every page of
  the tier before it FAILED, or when the incident is still unacknowledged ``tier_timeout`` after
  that tier went out.
- A person no channel can reach is reported unreachable, never skipped silently.
- A level with nobody to page (its schedules have nobody on call and it names no one else) is
  passed over at once; the plan lists it so the timeline can say so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, DeliveryStatus, IncidentStatus, Tier

TIER_ORDER = (Tier.PRIMARY, Tier.SECONDARY, Tier.FALLBACK)


@dataclass(frozen=True)
class LevelState:
    level: int
    delay_minutes: int
    user_ids: tuple[int, ...]


@dataclass(frozen=True)
class TierState:
    """One tier already paged to a person: when, and the statuses of its pages."""

    tier: Tier
    started_at: datetime
    statuses: tuple[DeliveryStatus, ...]

    @property
    def all_failed(self) -> bool:
        return bool(self.statuses) and all(status == DeliveryStatus.FAILED for status in self.statuses)


@dataclass(frozen=True)
class PersonState:
    user_id: int
    tiers: ChannelEscalationConfig
    reachable: frozenset[Channel]
    paged: tuple[TierState, ...] = ()


@dataclass(frozen=True)
class IncidentSnapshot:
    status: IncidentStatus
    level: int
    escalated_at: datetime | None
    levels: tuple[LevelState, ...]
    people: tuple[PersonState, ...] = field(default=())

    def person(self, user_id: int) -> PersonState | None:
        return next((person for person in self.people if person.user_id == user_id), None)


@dataclass(frozen=True)
class QueueTier:
    """Page ``user_id`` on ``channels`` (one tier) at escalation ``level``."""

    user_id: int
    level: int
    tier: Tier
    channels: tuple[Channel, ...]


@dataclass(frozen=True)
class Unreachable:
    """No remaining channel can reach ``user_id``."""

    user_id: int
    level: int


@dataclass(frozen=True)
class EscalationPlan:
    steps: tuple[QueueTier | Unreachable, ...]
    level: int
    escalated_at: datetime | None
    next_check_at: datetime | None
    passed_over: tuple[int, ...] = ()


def plan_escalation(snapshot: IncidentSnapshot, now: datetime, tier_timeout: timedelta) -> EscalationPlan:
    """What to page now, the level the incident is then at, and when to look again (None: never)."""
    if snapshot.status != IncidentStatus.TRIGGERED:
        return EscalationPlan((), snapshot.level, snapshot.escalated_at, None)
    level, escalated_at = _current_level(snapshot, now)
    steps: list[QueueTier | Unreachable] = []
    level_changed = (level, escalated_at) != (snapshot.level, snapshot.escalated_at)
    passed_over: tuple[int, ...] = ()
    if level_changed:
        level, passed_over = _past_empty_levels(snapshot, level)
        steps.extend(_page_level(snapshot, level))
    steps.extend(_advance_tiers(snapshot, level, now, tier_timeout))
    next_check_at = _next_check(snapshot, level, escalated_at, steps, now, tier_timeout)
    return EscalationPlan(tuple(steps), level, escalated_at, next_check_at, passed_over)


def _past_empty_levels(snapshot: IncidentSnapshot, level: int) -> tuple[int, tuple[int, ...]]:
    """The first level from ``level`` on with someone to page (the last level when none has),
    and the levels passed over on the way."""
    passed = []
    state = _level_state(snapshot, level)
    following = _next_level(snapshot, level)
    while state is not None and not state.user_ids and following is not None:
        passed.append(state.level)
        state, following = following, _next_level(snapshot, following.level)
    return (state.level if state else level), tuple(passed)


def _level_state(snapshot: IncidentSnapshot, level: int) -> LevelState | None:
    return next((state for state in snapshot.levels if state.level == level), None)


def _next_level(snapshot: IncidentSnapshot, level: int) -> LevelState | None:
    later = [state for state in snapshot.levels if state.level > level]
    return min(later, key=lambda state: state.level) if later else None


def _current_level(snapshot: IncidentSnapshot, now: datetime) -> tuple[int, datetime | None]:
    """The level to be at now: the first level when nothing was paged yet, else the next one
    whose predecessor's delay has passed (one level per evaluation)."""
    if snapshot.escalated_at is None:
        first = _level_state(snapshot, snapshot.level) or _next_level(snapshot, 0)
        return (first.level, now) if first else (snapshot.level, None)
    current = _level_state(snapshot, snapshot.level)
    following = _next_level(snapshot, snapshot.level)
    if current and following and (
        now >= snapshot.escalated_at + timedelta(minutes=current.delay_minutes) or _level_exhausted(snapshot, current)
    ):
        return following.level, now
    return snapshot.level, snapshot.escalated_at


def _level_exhausted(snapshot: IncidentSnapshot, level: LevelState) -> bool:
    """Nobody at this level can still be reached: every page failed on their last tier and no
    tier is left, or no channel ever reached them. Waiting out the delay would help nobody."""
    return all(_person_exhausted(snapshot.person(user_id)) for user_id in level.user_ids)


def _person_exhausted(person: PersonState | None) -> bool:
    if person is None:
        return True
    if not person.paged:
        return isinstance(_first_reachable_tier(person, 0, after=None), Unreachable)
    return person.paged[-1].all_failed and not _has_next_tier(person, person.paged[-1].tier)


def _page_level(snapshot: IncidentSnapshot, level: int) -> list[QueueTier | Unreachable]:
    state = _level_state(snapshot, level)
    steps: list[QueueTier | Unreachable] = []
    for user_id in state.user_ids if state else ():
        person = snapshot.person(user_id)
        if person is None:
            steps.append(Unreachable(user_id, level))
        elif not person.paged:  # someone paged at an earlier level carries on with their own tiers
            steps.append(_first_reachable_tier(person, level, after=None))
    return steps


def _first_reachable_tier(person: PersonState, level: int, after: Tier | None) -> QueueTier | Unreachable:
    for tier, channels in person.tiers.tiers():
        if after is not None and TIER_ORDER.index(tier) <= TIER_ORDER.index(after):
            continue
        reachable = tuple(channel for channel in channels if channel in person.reachable)
        if reachable:
            return QueueTier(person.user_id, level, tier, reachable)
    return Unreachable(person.user_id, level)


def _tier_is_done(tier: TierState, now: datetime, tier_timeout: timedelta) -> bool:
    return tier.all_failed or now >= tier.started_at + tier_timeout


def _advance_tiers(snapshot: IncidentSnapshot, level: int, now: datetime, tier_timeout: timedelta) -> list[QueueTier]:
    steps = []
    for person in snapshot.people:
        if not person.paged or not _tier_is_done(person.paged[-1], now, tier_timeout):
            continue
        step = _first_reachable_tier(person, level, after=person.paged[-1].tier)
        if isinstance(step, QueueTier):
            steps.append(step)
    return steps


def _has_next_tier(person: PersonState, current: Tier) -> bool:
    return isinstance(_first_reachable_tier(person, 0, after=current), QueueTier)


def _next_check(
    snapshot: IncidentSnapshot,
    level: int,
    escalated_at: datetime | None,
    steps: list,
    now: datetime,
    tier_timeout: timedelta,
) -> datetime | None:
    """The earliest deadline after which a new plan could page someone: the next level's, or
    any person's current tier timing out while a later tier remains."""
    deadlines = []
    current = _level_state(snapshot, level)
    if current and escalated_at and _next_level(snapshot, level):
        deadlines.append(escalated_at + timedelta(minutes=current.delay_minutes))
    newly_paged = {step.user_id: step.tier for step in steps if isinstance(step, QueueTier)}
    for person in snapshot.people:
        if person.user_id in newly_paged:
            tier, started = newly_paged[person.user_id], now
        elif person.paged:
            tier, started = person.paged[-1].tier, person.paged[-1].started_at
        else:
            continue
        if _has_next_tier(person, tier):
            deadlines.append(started + tier_timeout)
    return min(deadlines) if deadlines else None


@dataclass(frozen=True)
class NextTier:
    """``user_id`` is paged on ``channels`` (their next tier) at ``at`` if nobody acknowledges;
    ``at`` may be past when the engine has not got round to it yet."""

    user_id: int
    tier: Tier
    channels: tuple[Channel, ...]
    at: datetime


@dataclass(frozen=True)
class NextLevel:
    """Escalation ``level`` (its people: ``user_ids``) is paged at ``at`` if nobody acknowledges."""

    level: int
    user_ids: tuple[int, ...]
    at: datetime


@dataclass(frozen=True)
class Outlook:
    tiers: tuple[NextTier, ...] = ()
    level: NextLevel | None = None


def outlook(snapshot: IncidentSnapshot, tier_timeout: timedelta) -> Outlook:
    """What the policy will page next, and when, if nobody acknowledges: each paged person's next
    reachable tier and the next escalation level. Nothing once the incident is acknowledged."""
    if snapshot.status != IncidentStatus.TRIGGERED:
        return Outlook()
    tiers = []
    for person in snapshot.people:
        if not person.paged:
            continue
        current = person.paged[-1]
        step = _first_reachable_tier(person, snapshot.level, after=current.tier)
        if isinstance(step, QueueTier):
            tiers.append(NextTier(person.user_id, step.tier, step.channels, current.started_at + tier_timeout))
    return Outlook(tuple(tiers), _upcoming_level(snapshot))


def _upcoming_level(snapshot: IncidentSnapshot) -> NextLevel | None:
    current = _level_state(snapshot, snapshot.level)
    following = _next_level(snapshot, snapshot.level)
    if current is None or following is None or snapshot.escalated_at is None:
        return None
    return NextLevel(following.level, following.user_ids, snapshot.escalated_at + timedelta(minutes=current.delay_minutes))
