"""The status and list view models: what each page's words say, in the reader's zone, on a fixed clock."""
from __future__ import annotations

from datetime import timedelta

from channels.registry import DEFAULT_CHANNEL_ESCALATION
from incidents.escalation import IncidentSnapshot, LevelState, Outlook, PersonState, TierState, outlook
from incidents.report import EventLine, IncidentReport
from incidents.status_view import age, build_list_view, build_status_view
from storage.enums import Channel, DeliveryStatus, IncidentStatus, Tier
from tests.unit.status_samples import NOW, TRIGGERED, failed_everywhere, forty_people, incident, nobody_paged, typical


def _words(view, name):
    [person] = [person for person in view.people if person.name == name]
    return {state.channel: state.words for state in person.channels}, person


def test_each_page_says_what_became_of_it_in_the_readers_zone():
    view = build_status_view(*typical(), NOW, "Europe/Berlin")
    assert view.zone == "Europe/Berlin (CET)"
    alice, alice_person = _words(view, "Alice")
    assert alice == {"SLACK": "delivered 14:01", "EMAIL": "failed: 550 5.1.1 mailbox unavailable"}
    assert alice_person.upcoming == "SMS at 14:06 if nobody acknowledges" and alice_person.level == 1
    bob, bob_person = _words(view, "Bob")
    assert bob["SMS"] == "sent 14:01, waiting for a receipt"
    assert bob["VOICE"] == "queued, next try 14:07 after: HTTP 503 (2 tries)"
    assert bob_person.upcoming is None
    assert view.state == ("Triggered 14:00, waiting for someone to acknowledge",)
    assert view.notes == ("No channel can reach Carol (level 1)",)
    assert view.next_level == "Level 2 (Dave) at 14:10 if nobody acknowledges"
    assert [(post.destination, post.words) for post in view.posts] == [("C0123", "delivered 14:00")]
    assert view.counts == (("FAILED", 1), ("QUEUED", 1), ("SENT", 1), ("DELIVERED", 1))


def test_people_without_a_zone_read_utc_and_other_days_carry_the_date():
    report, plan, names = typical()
    view = build_status_view(report, plan, names, NOW + timedelta(days=1), "UTC")
    assert view.zone == "UTC"
    assert _words(view, "Alice")[0]["SLACK"] == "delivered 30 Nov 13:01"
    assert build_status_view(report, plan, names, NOW, "Not/AZone").zone == "UTC"


def test_who_acknowledged_and_resolved_via_what_and_when():
    report, _, _ = typical()
    done = incident(
        status="RESOLVED", acknowledged_at=NOW, acknowledged_by_name="Alice", acknowledged_via="SLACK",
        resolved_at=NOW + timedelta(minutes=3), resolved_by_name="Bob", resolved_via="API",
    )
    view = build_status_view(IncidentReport(done, "Payments", report.notifications, ()), Outlook(), {}, NOW, "Europe/Berlin")
    assert view.state == ("Acknowledged by Alice via Slack at 14:05", "Resolved by Bob via the API at 14:08")


def test_an_incident_nobody_was_paged_for_says_so():
    view = build_status_view(*nobody_paged(), NOW, "UTC")
    assert view.people == () and view.counts == () and view.notes == ("Nobody was paged for this incident.",)


def test_failed_everywhere_puts_every_error_in_words():
    view = build_status_view(*failed_everywhere(), NOW, "UTC")
    assert view.counts == (("FAILED", 12),)
    alice, person = _words(view, "Alice")
    assert alice["SMS"] == "failed: Twilio error 21614: 'To' number is not a valid mobile number (3 tries)"
    assert person.failed


def test_long_errors_are_shortened_and_failures_come_first():
    view = build_status_view(*forty_people(), NOW, "UTC")
    assert len(view.people) == 40
    assert all(len(state.words) <= 180 for person in view.people for state in person.channels)
    concern = view.people_by_concern()
    assert [person.failed for person in concern] == [True] * 8 + [False] * 32


def test_the_list_says_age_team_status_and_who_acknowledged():
    acknowledged = incident(43, "ACKNOWLEDGED", acknowledged_at=NOW, acknowledged_by_name="Alice", acknowledged_via="TEAMS")
    older = incident(team=None, triggered_at=NOW - timedelta(hours=3, minutes=20))
    view = build_list_view([acknowledged, older], True, NOW, "Europe/Berlin")
    first, second = view.incidents
    assert (first.number, first.team, first.age) == (43, "Payments", "5 min")
    assert first.acknowledged == "Acknowledged by Alice via Teams at 14:05"
    assert (second.team, second.age, second.acknowledged) == (None, "3 h 20 min", None)
    assert view.truncated and view.zone == "Europe/Berlin (CET)"
    assert age(timedelta(days=3)) == "3 days"


def _person(user_id, paged=()):
    return PersonState(user_id, DEFAULT_CHANNEL_ESCALATION, frozenset({Channel.EMAIL, Channel.SMS}), paged)


def test_the_outlook_is_the_policys_next_tier_and_next_level():
    levels = (LevelState(1, 15, (1,)), LevelState(2, 0, (2,)))
    paged = (TierState(Tier.PRIMARY, TRIGGERED, (DeliveryStatus.SENT,)),)
    snapshot = IncidentSnapshot(IncidentStatus.TRIGGERED, 1, TRIGGERED, levels, (_person(1, paged), _person(2)))
    plan = outlook(snapshot, timedelta(minutes=5))
    [tier] = plan.tiers
    assert (tier.user_id, tier.tier, tier.channels, tier.at) == (1, Tier.SECONDARY, (Channel.SMS,), TRIGGERED + timedelta(minutes=5))
    assert (plan.level.level, plan.level.user_ids, plan.level.at) == (2, (2,), TRIGGERED + timedelta(minutes=15))


def test_nothing_is_upcoming_once_acknowledged_or_on_the_last_tier():
    levels = (LevelState(1, 15, (1,)),)
    last = (TierState(Tier.PRIMARY, TRIGGERED, ()), TierState(Tier.SECONDARY, TRIGGERED, (DeliveryStatus.SENT,)))
    on_last_tier = IncidentSnapshot(IncidentStatus.TRIGGERED, 1, TRIGGERED, levels, (_person(1, last),))
    assert outlook(on_last_tier, timedelta(minutes=5)).tiers == ()  # no voice channel reaches them
    acknowledged = IncidentSnapshot(IncidentStatus.ACKNOWLEDGED, 1, TRIGGERED, levels, (_person(1, last[:1]),))
    plan = outlook(acknowledged, timedelta(minutes=5))
    assert plan.tiers == () and plan.level is None


def test_many_unreachable_people_are_named_in_one_note():
    report, _, _ = nobody_paged()
    events = tuple(EventLine("UNREACHABLE", TRIGGERED, f"P{index}", None, f"No channel can reach P{index} (level 1)") for index in range(5))
    view = build_status_view(IncidentReport(report.incident, None, (), events), Outlook(), {}, NOW, "UTC")
    assert view.notes == ("No channel can reach 5 people: P0, P1, P2, P3, P4",)
