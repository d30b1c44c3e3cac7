"""The escalation policy (DESIGN.md "Escalation"): who is paged, on which channels, at which level,
and when the engine has to look again. Pure: a fixed ``now``, no I/O, no clock."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.registry import DEFAULT_CHANNEL_ESCALATION
from incidents.escalation import (
    EscalationPlan,
    IncidentSnapshot,
    LevelState,
    PersonState,
    QueueTier,
    TierState,
    Unreachable,
    plan_escalation,
)
from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, DeliveryStatus, IncidentStatus, Tier

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=5)
EVERYTHING = frozenset(Channel)
DEFAULT_PRIMARY = (Channel.EMAIL, Channel.SLACK, Channel.TEAMS, Channel.PUSH)

SENT = DeliveryStatus.SENT
FAILED = DeliveryStatus.FAILED
DELIVERED = DeliveryStatus.DELIVERED
QUEUED = DeliveryStatus.QUEUED
SENDING = DeliveryStatus.SENDING

ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4

EMAIL_ONLY = ChannelEscalationConfig(primary=(Channel.EMAIL,), secondary=(), fallback=())
SMS_THEN_EMAIL = ChannelEscalationConfig(primary=(Channel.SMS,), secondary=(Channel.EMAIL,), fallback=())


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def person(
    user_id: int,
    reachable=EVERYTHING,
    paged: tuple[TierState, ...] = (),
    tiers: ChannelEscalationConfig = DEFAULT_CHANNEL_ESCALATION,
) -> PersonState:
    return PersonState(user_id, tiers, frozenset(reachable), paged)


def tier(which: Tier, started_at: datetime, *statuses: DeliveryStatus) -> TierState:
    return TierState(which, started_at, tuple(statuses))


def snapshot(
    levels,
    people,
    level: int = 1,
    escalated_at: datetime | None = None,
    status: IncidentStatus = IncidentStatus.TRIGGERED,
) -> IncidentSnapshot:
    return IncidentSnapshot(status, level, escalated_at, tuple(levels), tuple(people))


def plan(snap: IncidentSnapshot, now: datetime = NOW, tier_timeout: timedelta = TIMEOUT) -> EscalationPlan:
    return plan_escalation(snap, now, tier_timeout)


def primary(user_id: int, level: int = 1, channels=DEFAULT_PRIMARY) -> QueueTier:
    return QueueTier(user_id, level, Tier.PRIMARY, tuple(channels))


def sms(user_id: int, level: int = 1) -> QueueTier:
    return QueueTier(user_id, level, Tier.SECONDARY, (Channel.SMS,))


def voice(user_id: int, level: int = 1) -> QueueTier:
    return QueueTier(user_id, level, Tier.FALLBACK, (Channel.VOICE,))


# --- a fresh incident -------------------------------------------------------------------------


def test_a_fresh_incident_pages_level_one_on_the_primary_tier_in_parallel():
    snap = snapshot(
        [LevelState(1, 10, (ALICE, BOB)), LevelState(2, 15, (CAROL,))],
        [person(ALICE), person(BOB), person(CAROL)],
    )
    result = plan(snap)
    assert result.steps == (primary(ALICE), primary(BOB))
    assert result.level == 1
    assert result.escalated_at == NOW
    # the tier timeout (5 min) comes before level 1's delay (10 min)
    assert result.next_check_at == NOW + TIMEOUT


def test_a_fresh_incident_looks_again_at_the_level_delay_when_it_is_sooner_than_the_tier_timeout():
    snap = snapshot([LevelState(1, 2, (ALICE,)), LevelState(2, 15, (CAROL,))], [person(ALICE), person(CAROL)])
    result = plan(snap)
    assert result.steps == (primary(ALICE),)
    assert result.next_check_at == NOW + minutes(2)


def test_a_fresh_incident_with_a_single_level_looks_again_only_for_the_next_tier():
    result = plan(snapshot([LevelState(1, 1, (ALICE,))], [person(ALICE)]))
    assert result.steps == (primary(ALICE),)
    # no level 2: level 1's delay is no deadline
    assert result.next_check_at == NOW + TIMEOUT


def test_a_fresh_incident_pages_only_the_channels_that_can_reach_the_person():
    snap = snapshot([LevelState(1, 10, (ALICE,))], [person(ALICE, reachable={Channel.PUSH, Channel.EMAIL, Channel.SMS})])
    result = plan(snap)
    # in the tier's own order, unreachable ones left out
    assert result.steps == (primary(ALICE, channels=(Channel.EMAIL, Channel.PUSH)),)


def test_a_person_whose_primary_channels_are_all_unreachable_gets_the_secondary_tier_straight_away():
    snap = snapshot([LevelState(1, 10, (ALICE,))], [person(ALICE, reachable={Channel.SMS, Channel.VOICE})])
    result = plan(snap)
    assert result.steps == (sms(ALICE),)
    assert result.next_check_at == NOW + TIMEOUT  # voice remains


def test_a_person_reachable_only_by_voice_gets_the_fallback_tier_and_no_tier_deadline():
    snap = snapshot([LevelState(1, 10, (ALICE,))], [person(ALICE, reachable={Channel.VOICE})])
    result = plan(snap)
    assert result.steps == (voice(ALICE),)
    assert result.next_check_at is None


def test_a_person_no_channel_can_reach_is_reported_unreachable_and_the_others_are_still_paged():
    snap = snapshot(
        [LevelState(1, 10, (ALICE, BOB))],
        [person(ALICE, reachable=()), person(BOB)],
    )
    result = plan(snap)
    assert result.steps == (Unreachable(ALICE, 1), primary(BOB))
    assert result.next_check_at == NOW + TIMEOUT


def test_an_unreachable_person_is_reported_once_not_on_every_later_evaluation():
    levels = [LevelState(1, 10, (ALICE, BOB))]
    first = plan(snapshot(levels, [person(ALICE, reachable=()), person(BOB)]))
    assert [step for step in first.steps if isinstance(step, Unreachable)] == [Unreachable(ALICE, 1)]
    # the engine comes back when Bob's primary tier times out
    later = first.next_check_at
    again = snapshot(
        levels,
        [person(ALICE, reachable=()), person(BOB, paged=(tier(Tier.PRIMARY, NOW, SENT),))],
        level=first.level, escalated_at=first.escalated_at,
    )
    result = plan(again, now=later)
    assert result.steps == (sms(BOB),)


def test_an_unreachable_person_sets_no_deadline():
    only_unreachable = snapshot([LevelState(1, 10, (ALICE,))], [person(ALICE, reachable=())])
    result = plan(only_unreachable)
    assert result.steps == (Unreachable(ALICE, 1),)
    assert (result.level, result.escalated_at, result.next_check_at) == (1, NOW, None)

    with_level_two = snapshot(
        [LevelState(1, 10, (ALICE,)), LevelState(2, 10, (BOB,))], [person(ALICE, reachable=()), person(BOB)]
    )
    result = plan(with_level_two)
    assert result.steps == (Unreachable(ALICE, 1),)
    assert result.next_check_at == NOW + minutes(10)  # only the level deadline


def test_several_people_each_start_on_their_own_first_reachable_tier():
    snap = snapshot(
        [LevelState(1, 30, (ALICE, BOB, CAROL))],
        [
            person(ALICE, reachable={Channel.SLACK}),
            person(BOB, reachable={Channel.SMS}),
            person(CAROL, reachable={Channel.VOICE, Channel.TEAMS}),
        ],
    )
    assert plan(snap).steps == (
        primary(ALICE, channels=(Channel.SLACK,)),
        sms(BOB),
        primary(CAROL, channels=(Channel.TEAMS,)),
    )


def test_an_incident_without_levels_pages_nobody_and_never_looks_again():
    result = plan(snapshot([], []))
    assert result == EscalationPlan((), 1, None, None)


def test_levels_listed_out_of_order_still_page_the_lowest_level_first():
    snap = snapshot(
        [LevelState(2, 10, (BOB,)), LevelState(1, 10, (ALICE,))],
        [person(ALICE), person(BOB)],
    )
    result = plan(snap)
    assert result.steps == (primary(ALICE),)
    assert result.level == 1


# --- tiers ------------------------------------------------------------------------------------


def level_one(*people: PersonState, delay: int = 60) -> IncidentSnapshot:
    """An incident already at level 1 (the only level), paged 1 minute before each test's tier."""
    return snapshot([LevelState(1, delay, tuple(p.user_id for p in people))], people, escalated_at=NOW - minutes(1))


def test_a_tier_whose_pages_all_failed_advances_immediately():
    started = NOW - minutes(1)
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started, FAILED, FAILED, FAILED, FAILED),)))
    result = plan(snap)
    assert result.steps == (sms(ALICE),)
    assert (result.level, result.escalated_at) == (1, NOW - minutes(1))
    assert result.next_check_at == NOW + TIMEOUT  # voice remains after SMS


def test_a_tier_with_one_sent_and_one_failed_page_waits_for_the_tier_timeout():
    started = NOW - minutes(1)
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started, SENT, FAILED),)))
    result = plan(snap)
    assert result.steps == ()
    assert result.next_check_at == started + TIMEOUT


@pytest.mark.parametrize(
    ("elapsed", "advances"),
    [
        (TIMEOUT - timedelta(seconds=1), False),
        (TIMEOUT - timedelta(microseconds=1), False),
        (TIMEOUT, True),
        (TIMEOUT + timedelta(hours=1), True),
    ],
)
def test_a_tier_advances_exactly_when_the_tier_timeout_has_passed(elapsed, advances):
    started = NOW - elapsed
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started, SENT, FAILED),)))
    result = plan(snap)
    if advances:
        assert result.steps == (sms(ALICE),)
        assert result.next_check_at == NOW + TIMEOUT
    else:
        assert result.steps == ()
        assert result.next_check_at == started + TIMEOUT


def test_a_delivered_but_unacknowledged_tier_advances_after_the_timeout():
    started = NOW - TIMEOUT
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started, DELIVERED, DELIVERED),)))
    assert plan(snap).steps == (sms(ALICE),)


@pytest.mark.parametrize("pending", [QUEUED, SENDING, SENT, DELIVERED])
def test_a_tier_with_a_page_still_in_flight_is_not_all_failed(pending):
    started = NOW - minutes(1)
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started, FAILED, pending, FAILED),)))
    result = plan(snap)
    assert result.steps == ()
    assert result.next_check_at == started + TIMEOUT


def test_a_tier_with_no_recorded_pages_is_not_all_failed():
    started = NOW - minutes(1)
    snap = level_one(person(ALICE, paged=(tier(Tier.PRIMARY, started),)))
    result = plan(snap)
    assert result.steps == ()
    assert result.next_check_at == started + TIMEOUT


def test_the_secondary_tier_advances_to_the_fallback_tier():
    snap = level_one(
        person(
            ALICE,
            paged=(tier(Tier.PRIMARY, NOW - minutes(20), FAILED), tier(Tier.SECONDARY, NOW - TIMEOUT, SENT)),
        )
    )
    result = plan(snap)
    assert result.steps == (voice(ALICE),)
    assert result.next_check_at is None  # nothing after voice


def test_there_is_no_advance_past_the_last_tier():
    snap = level_one(
        person(
            ALICE,
            paged=(
                tier(Tier.PRIMARY, NOW - minutes(30), FAILED),
                tier(Tier.SECONDARY, NOW - minutes(20), FAILED),
                tier(Tier.FALLBACK, NOW - minutes(10), FAILED),
            ),
        )
    )
    result = plan(snap)
    assert result.steps == ()
    assert result.next_check_at is None


def test_an_unreachable_middle_tier_is_skipped():
    started = NOW - minutes(1)
    snap = level_one(person(ALICE, reachable={Channel.EMAIL, Channel.VOICE}, paged=(tier(Tier.PRIMARY, started, FAILED),)))
    result = plan(snap)
    assert result.steps == (voice(ALICE),)
    assert result.next_check_at is None


def test_a_person_whose_remaining_tiers_are_unreachable_gets_no_step_and_no_deadline():
    reachable = {Channel.EMAIL, Channel.SLACK}
    # before the timeout: no deadline for a tier that could not go anywhere
    in_flight = level_one(person(ALICE, reachable=reachable, paged=(tier(Tier.PRIMARY, NOW - minutes(1), SENT),)))
    result = plan(in_flight)
    assert (result.steps, result.next_check_at) == ((), None)
    # after it, or once everything failed: still nothing (not even a repeated Unreachable)
    for statuses in ((SENT, SENT), (FAILED, FAILED)):
        done = level_one(person(ALICE, reachable=reachable, paged=(tier(Tier.PRIMARY, NOW - TIMEOUT, *statuses),)))
        result = plan(done)
        assert (result.steps, result.next_check_at) == ((), None)


def test_the_next_check_is_the_earliest_of_several_tier_deadlines():
    snap = level_one(
        person(ALICE, paged=(tier(Tier.PRIMARY, NOW - minutes(1), SENT),)),
        person(BOB, paged=(tier(Tier.PRIMARY, NOW - minutes(3), SENT),)),
        person(CAROL, paged=(tier(Tier.PRIMARY, NOW - minutes(4), FAILED),)),  # advances now
    )
    result = plan(snap)
    assert result.steps == (sms(CAROL),)
    assert result.next_check_at == NOW - minutes(3) + TIMEOUT


def test_only_people_whose_tier_is_done_advance():
    snap = level_one(
        person(ALICE, paged=(tier(Tier.PRIMARY, NOW - TIMEOUT, SENT),)),
        person(BOB, paged=(tier(Tier.PRIMARY, NOW - minutes(2), SENT),)),
    )
    result = plan(snap)
    assert result.steps == (sms(ALICE),)
    assert result.next_check_at == min(NOW + TIMEOUT, NOW - minutes(2) + TIMEOUT)


# --- levels -----------------------------------------------------------------------------------


TWO_LEVELS = [LevelState(1, 10, (ALICE,)), LevelState(2, 15, (BOB,))]


def at_level_one(escalated_at: datetime, alice_tier: TierState | None = None) -> IncidentSnapshot:
    """Alice (level 1) was paged on the last tier of an email-only config, so only levels matter."""
    alice_tier = alice_tier or tier(Tier.PRIMARY, escalated_at, SENT)
    return snapshot(
        TWO_LEVELS,
        [person(ALICE, tiers=EMAIL_ONLY, paged=(alice_tier,)), person(BOB)],
        level=1, escalated_at=escalated_at,
    )


def test_the_next_level_is_paged_exactly_when_the_level_delay_has_passed():
    escalated_at = NOW - minutes(10)
    result = plan(at_level_one(escalated_at))
    assert result.steps == (primary(BOB, level=2),)
    assert result.level == 2
    assert result.escalated_at == NOW
    # level 2 is the last level: only Bob's tier deadline remains
    assert result.next_check_at == NOW + TIMEOUT


@pytest.mark.parametrize("early", [timedelta(seconds=1), timedelta(microseconds=1)])
def test_the_next_level_is_not_paged_a_moment_before_the_delay(early):
    escalated_at = NOW - minutes(10) + early
    result = plan(at_level_one(escalated_at))
    assert result.steps == ()
    assert (result.level, result.escalated_at) == (1, escalated_at)
    assert result.next_check_at == escalated_at + minutes(10)


def test_only_one_level_is_paged_per_evaluation_however_late_it_is():
    levels = [LevelState(1, 5, (ALICE,)), LevelState(2, 7, (BOB,)), LevelState(3, 9, (CAROL,))]
    snap = snapshot(
        levels,
        [person(ALICE, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, NOW - minutes(600), SENT),)),
         person(BOB, tiers=EMAIL_ONLY), person(CAROL, tiers=EMAIL_ONLY)],
        level=1, escalated_at=NOW - minutes(600),
    )
    result = plan(snap)
    assert result.steps == (primary(BOB, level=2, channels=(Channel.EMAIL,)),)
    assert (result.level, result.escalated_at) == (2, NOW)
    # level 3 waits level 2's full delay from now
    assert result.next_check_at == NOW + minutes(7)


def test_a_zero_delay_level_is_followed_at_the_next_look_not_in_the_same_evaluation():
    levels = [LevelState(1, 0, (ALICE,)), LevelState(2, 10, (BOB,))]
    fresh = plan(snapshot(levels, [person(ALICE, tiers=EMAIL_ONLY), person(BOB, tiers=EMAIL_ONLY)]))
    assert fresh.steps == (primary(ALICE, channels=(Channel.EMAIL,)),)
    assert (fresh.level, fresh.next_check_at) == (1, NOW)
    after = snapshot(
        levels,
        [person(ALICE, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, NOW, SENT),)), person(BOB, tiers=EMAIL_ONLY)],
        level=1, escalated_at=NOW,
    )
    result = plan(after)
    assert result.steps == (primary(BOB, level=2, channels=(Channel.EMAIL,)),)
    assert result.level == 2


def test_a_person_already_paged_at_level_one_is_not_paged_again_at_level_two():
    levels = [LevelState(1, 10, (ALICE,)), LevelState(2, 15, (ALICE, BOB))]
    snap = snapshot(
        levels,
        [person(ALICE, paged=(tier(Tier.PRIMARY, NOW - minutes(10), SENT, SENT),)), person(BOB)],
        level=1, escalated_at=NOW - minutes(10),
    )
    # Alice's primary timed out too: she carries on to her own next tier, not back to primary
    result = plan(snap)
    user_tiers = [(step.user_id, step.tier) for step in result.steps]
    assert sorted(user_tiers) == [(ALICE, Tier.SECONDARY), (BOB, Tier.PRIMARY)]
    assert primary(BOB, level=2) in result.steps
    assert result.level == 2


def test_a_person_in_both_levels_whose_tier_is_still_running_gets_nothing_at_level_two():
    levels = [LevelState(1, 3, (ALICE,)), LevelState(2, 15, (ALICE, BOB))]
    started = NOW - minutes(3)
    snap = snapshot(
        levels,
        [person(ALICE, paged=(tier(Tier.PRIMARY, started, SENT),)), person(BOB)],
        level=1, escalated_at=started,
    )
    result = plan(snap)
    assert result.steps == (primary(BOB, level=2),)
    assert result.next_check_at == started + TIMEOUT  # Alice's primary times out before Bob's


def test_a_level_whose_people_were_all_paged_already_escalates_without_pages():
    levels = [LevelState(1, 10, (ALICE,)), LevelState(2, 15, (ALICE,))]
    snap = snapshot(
        levels,
        [person(ALICE, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, NOW - minutes(10), SENT),))],
        level=1, escalated_at=NOW - minutes(10),
    )
    result = plan(snap)
    assert result.steps == ()
    assert (result.level, result.escalated_at, result.next_check_at) == (2, NOW, None)


def test_the_last_level_never_advances():
    escalated_at = NOW - minutes(600)
    snap = snapshot(
        TWO_LEVELS,
        [person(ALICE, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, escalated_at, SENT),)),
         person(BOB, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, escalated_at, SENT),))],
        level=2, escalated_at=escalated_at,
    )
    result = plan(snap)
    assert result == EscalationPlan((), 2, escalated_at, None)


def test_levels_numbered_non_contiguously_advance_in_order():
    levels = [LevelState(1, 10, (ALICE,)), LevelState(3, 20, (BOB,)), LevelState(7, 5, (CAROL,))]
    people = [person(p, tiers=EMAIL_ONLY) for p in (ALICE, BOB, CAROL)]
    email = (Channel.EMAIL,)

    fresh = plan(snapshot(levels, people))
    assert fresh.steps == (primary(ALICE, 1, email),)
    assert (fresh.level, fresh.next_check_at) == (1, NOW + minutes(10))

    t1 = NOW + minutes(10)
    paged_alice = person(ALICE, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, NOW, SENT),))
    second = plan(snapshot(levels, [paged_alice, people[1], people[2]], level=1, escalated_at=NOW), now=t1)
    assert second.steps == (primary(BOB, 3, email),)
    assert (second.level, second.escalated_at, second.next_check_at) == (3, t1, t1 + minutes(20))

    t2 = t1 + minutes(20)
    paged_bob = person(BOB, tiers=EMAIL_ONLY, paged=(tier(Tier.PRIMARY, t1, SENT),))
    third = plan(snapshot(levels, [paged_alice, paged_bob, people[2]], level=3, escalated_at=t1), now=t2)
    assert third.steps == (primary(CAROL, 7, email),)
    assert (third.level, third.escalated_at, third.next_check_at) == (7, t2, None)


def test_level_and_tier_deadlines_together_give_the_earliest():
    levels = [LevelState(1, 4, (ALICE,)), LevelState(2, 15, (BOB,))]
    started = NOW - minutes(2)
    snap = snapshot(levels, [person(ALICE, paged=(tier(Tier.PRIMARY, started, SENT),)), person(BOB)],
                    level=1, escalated_at=started)
    # level deadline started+4min is sooner than the tier deadline started+5min
    assert plan(snap).next_check_at == started + minutes(4)
    assert plan(snap, tier_timeout=minutes(3)).next_check_at == started + minutes(3)


def test_a_level_advance_and_a_tier_advance_happen_in_the_same_evaluation():
    escalated_at = NOW - minutes(10)
    snap = snapshot(
        TWO_LEVELS,
        [person(ALICE, paged=(tier(Tier.PRIMARY, escalated_at, SENT),)), person(BOB)],
        level=1, escalated_at=escalated_at,
    )
    result = plan(snap)
    assert {(step.user_id, step.tier) for step in result.steps} == {(ALICE, Tier.SECONDARY), (BOB, Tier.PRIMARY)}
    assert primary(BOB, level=2) in result.steps
    assert (result.level, result.escalated_at) == (2, NOW)
    assert result.next_check_at == NOW + TIMEOUT


def test_a_tier_advance_carries_the_same_level_whether_or_not_the_level_changed_in_that_evaluation():
    escalated_at = NOW - minutes(10)
    alice = person(ALICE, paged=(tier(Tier.PRIMARY, escalated_at, SENT),))
    # the level change and Alice's tier timeout fall due together
    together = plan(snapshot(TWO_LEVELS, [alice, person(BOB)], level=1, escalated_at=escalated_at))
    # the same moment, with the level change already applied by an evaluation an instant before
    bob_paged = person(BOB, paged=(tier(Tier.PRIMARY, NOW, QUEUED),))
    apart = plan(snapshot(TWO_LEVELS, [alice, bob_paged], level=2, escalated_at=NOW))
    [alice_together] = [step for step in together.steps if step.user_id == ALICE]
    [alice_apart] = [step for step in apart.steps if step.user_id == ALICE]
    assert alice_together.tier == alice_apart.tier == Tier.SECONDARY
    assert alice_together.level == alice_apart.level


def test_a_fresh_incident_does_not_skip_to_a_later_level_even_if_its_delay_is_zero():
    levels = [LevelState(1, 0, (ALICE,)), LevelState(2, 0, (BOB,))]
    result = plan(snapshot(levels, [person(ALICE), person(BOB)]))
    assert result.steps == (primary(ALICE),)
    assert result.level == 1


# --- acknowledged and resolved ----------------------------------------------------------------


@pytest.mark.parametrize("status", [IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED])
def test_an_acknowledged_or_resolved_incident_plans_nothing_and_never_looks_again(status):
    escalated_at = NOW - minutes(600)
    snap = snapshot(
        TWO_LEVELS,
        [person(ALICE, paged=(tier(Tier.PRIMARY, escalated_at, FAILED),)), person(BOB)],
        level=1, escalated_at=escalated_at, status=status,
    )
    assert plan(snap) == EscalationPlan((), 1, escalated_at, None)


@pytest.mark.parametrize("status", [IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED])
def test_an_incident_closed_before_anyone_was_paged_pages_nobody(status):
    snap = snapshot(TWO_LEVELS, [person(ALICE), person(BOB)], status=status)
    assert plan(snap) == EscalationPlan((), 1, None, None)


# --- a person's own channel tiers -------------------------------------------------------------


def test_a_custom_channel_config_is_respected_tier_by_tier():
    levels = [LevelState(1, 60, (ALICE,))]
    fresh = plan(snapshot(levels, [person(ALICE, tiers=SMS_THEN_EMAIL)]))
    assert fresh.steps == (QueueTier(ALICE, 1, Tier.PRIMARY, (Channel.SMS,)),)
    assert fresh.next_check_at == NOW + TIMEOUT

    failed = snapshot(
        levels,
        [person(ALICE, tiers=SMS_THEN_EMAIL, paged=(tier(Tier.PRIMARY, NOW - minutes(1), FAILED),))],
        escalated_at=NOW - minutes(1),
    )
    result = plan(failed)
    assert result.steps == (QueueTier(ALICE, 1, Tier.SECONDARY, (Channel.EMAIL,)),)
    assert result.next_check_at is None  # no fallback tier configured


def test_a_custom_config_with_an_unreachable_primary_starts_on_its_own_secondary():
    tiers = ChannelEscalationConfig(primary=(Channel.SMS, Channel.SLACK), secondary=(Channel.VOICE,), fallback=(Channel.EMAIL,))
    snap = snapshot([LevelState(1, 60, (ALICE,))], [person(ALICE, tiers=tiers, reachable={Channel.VOICE, Channel.EMAIL})])
    result = plan(snap)
    assert result.steps == (QueueTier(ALICE, 1, Tier.SECONDARY, (Channel.VOICE,)),)
    assert result.next_check_at == NOW + TIMEOUT


def test_a_custom_config_pages_its_primary_channels_in_its_own_order():
    tiers = ChannelEscalationConfig(primary=(Channel.SMS, Channel.SLACK), secondary=(Channel.VOICE,), fallback=(Channel.EMAIL,))
    snap = snapshot([LevelState(1, 60, (ALICE,))], [person(ALICE, tiers=tiers)])
    assert plan(snap).steps == (QueueTier(ALICE, 1, Tier.PRIMARY, (Channel.SMS, Channel.SLACK)),)


def test_a_config_without_a_secondary_tier_goes_from_primary_to_fallback():
    tiers = ChannelEscalationConfig(primary=(Channel.SLACK,), secondary=(), fallback=(Channel.VOICE,))
    snap = level_one(person(ALICE, tiers=tiers, paged=(tier(Tier.PRIMARY, NOW - TIMEOUT, SENT),)))
    result = plan(snap)
    assert result.steps == (voice(ALICE),)
    assert result.next_check_at is None


def test_the_default_tiers_are_email_slack_teams_push_then_sms_then_voice():
    assert DEFAULT_CHANNEL_ESCALATION.tiers() == (
        (Tier.PRIMARY, DEFAULT_PRIMARY),
        (Tier.SECONDARY, (Channel.SMS,)),
        (Tier.FALLBACK, (Channel.VOICE,)),
    )


def test_a_changed_preference_still_reaches_the_later_tiers():
    """Paged on SECONDARY under an older config that no longer has one: fallback still follows."""
    now_config = ChannelEscalationConfig(primary=(Channel.EMAIL,), secondary=(), fallback=(Channel.VOICE,))
    alice = person(ALICE, tiers=now_config, paged=(tier(Tier.SECONDARY, NOW - minutes(6), SENT),))
    result = plan(snapshot([LevelState(1, 30, (ALICE,))], [alice], escalated_at=NOW - minutes(6)))
    assert result.steps == (voice(ALICE),)


def test_a_level_member_with_no_person_record_is_reported_not_skipped():
    result = plan(snapshot([LevelState(1, 10, (ALICE, 9))], [person(ALICE)]))
    assert result.steps == (primary(ALICE), Unreachable(9, 1))


def test_a_level_whose_every_page_failed_for_good_escalates_at_once():
    escalated_at = NOW - minutes(2)
    alice = person(ALICE, reachable={Channel.EMAIL, Channel.VOICE}, paged=(
        tier(Tier.PRIMARY, escalated_at, FAILED), tier(Tier.FALLBACK, NOW - minutes(1), FAILED)))
    levels = [LevelState(1, 30, (ALICE,)), LevelState(2, 30, (BOB,))]
    result = plan(snapshot(levels, [alice, person(BOB)], level=1, escalated_at=escalated_at))
    assert result.level == 2 and result.steps == (primary(BOB, level=2),)


def test_a_level_with_someone_still_reachable_waits_for_its_delay():
    escalated_at = NOW - minutes(2)
    alice = person(ALICE, reachable={Channel.EMAIL, Channel.VOICE}, paged=(tier(Tier.PRIMARY, escalated_at, FAILED),))
    levels = [LevelState(1, 30, (ALICE,)), LevelState(2, 30, (BOB,))]
    result = plan(snapshot(levels, [alice, person(BOB)], level=1, escalated_at=escalated_at))
    assert result.level == 1 and result.steps == (voice(ALICE),)


# --- levels with nobody to page (a schedule with nobody on call) ------------------------------


def test_levels_with_nobody_to_page_are_passed_over_at_once():
    snap = snapshot(
        [LevelState(1, 10, ()), LevelState(2, 10, ()), LevelState(3, 15, (CAROL,))], [person(CAROL)],
    )
    result = plan(snap)
    assert (result.level, result.passed_over, result.steps) == (3, (1, 2), (primary(CAROL, level=3),))


def test_an_escalation_onto_an_empty_level_moves_on_to_the_next():
    snap = snapshot(
        [LevelState(1, 10, (ALICE,)), LevelState(2, 10, ()), LevelState(3, 15, (CAROL,))],
        [person(ALICE, paged=(tier(Tier.PRIMARY, NOW - minutes(11), SENT),)), person(CAROL)],
        escalated_at=NOW - minutes(11),
    )
    result = plan(snap)
    assert (result.level, result.passed_over) == (3, (2,))
    assert primary(CAROL, level=3) in result.steps


def test_when_every_level_is_empty_the_last_is_reached_and_nobody_paged():
    result = plan(snapshot([LevelState(1, 10, ()), LevelState(2, 10, ())], []))
    assert (result.level, result.passed_over, result.steps, result.next_check_at) == (2, (1,), (), None)
