"""What a person's phone shows: one SMS segment where possible, the reply hint always kept."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms import TEST_TEXT, is_gsm7, sms_length, sms_text
from channels.types import NotificationAction, NotificationKind, NotificationPayload, Priority, Recipient

ACK = NotificationAction("acknowledge", "Acknowledge", "primary")
RES = NotificationAction("resolve", "Resolve", "danger")


def page(**changes) -> NotificationPayload:
    fields = dict(
        incident_id=42, user_id=1, title="DB primary down", body="replica lag 30s", priority=Priority.CRITICAL,
        service="payments", team_name="Payments", alert_count=1, escalation_level=1, dashboard_url=None,
        triggered_at=datetime(2026, 11, 28, 14, 0, tzinfo=UTC),
        recipient=Recipient(1, "Alice", phone="+15550100001"), notification_id=7, actions=(ACK, RES),
    )
    fields.update(changes)
    return NotificationPayload(**fields)


def test_a_page_reads_priority_number_service_title_and_how_to_reply():
    assert sms_text(page()) == "CRITICAL #42 payments: DB primary down. Reply ACK 42 or RES 42"


def test_a_long_title_is_cut_at_a_word_with_three_dots_to_fit_one_segment():
    title = (
        "Disk usage on db-primary-01.eu-west-1 has been above 95 percent for the last 15 minutes "
        "and the write-ahead log volume is filling up quickly, please check"
    )
    text = sms_text(page(title=title))
    assert text == (
        "CRITICAL #42 payments: Disk usage on db-primary-01.eu-west-1 has been above 95 percent for the last 15 "
        "minutes and the write-ahead... Reply ACK 42 or RES 42"
    )
    assert is_gsm7(text) and sms_length(text) <= 160
    assert "\u2026" not in text


def test_typographic_punctuation_is_replaced_so_the_text_stays_gsm7():
    text = sms_text(page(title="DB \u201cprimary\u201d down \u2013 again\u2026"))
    assert text == 'CRITICAL #42 payments: DB "primary" down - again. Reply ACK 42 or RES 42'
    assert is_gsm7(text)


def test_gsm7_extension_characters_take_two_places():
    brackets = sms_text(page(title="x" * 90 + "[]{}" + "y" * 40))
    letters = sms_text(page(title="x" * 90 + "abcd" + "y" * 40))
    assert sms_length(brackets) == len(brackets) + 4 <= 160
    assert len(letters) == len(brackets) + 4 == sms_length(letters)


def test_an_emoji_makes_the_segment_70_characters_and_is_counted_as_two():
    text = sms_text(page(title="DB down \U0001F525 and the replica is lagging by more than ten minutes"))
    assert not is_gsm7(text)
    assert sms_length(text) <= 70
    assert text.startswith("CRITICAL #42 payments: DB down \U0001F525") and text.endswith("... Reply ACK 42 or RES 42")


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"actions": (RES,)}, "CRITICAL #42 payments: DB primary down. Reply RES 42"),
        ({"actions": ()}, "CRITICAL #42 payments: DB primary down"),
        ({"service": ""}, "CRITICAL #42 Payments: DB primary down. Reply ACK 42 or RES 42"),
        ({"service": "", "team_name": ""}, "CRITICAL #42: DB primary down. Reply ACK 42 or RES 42"),
        (
            {"priority": Priority.LOW, "title": "Cert expires in 20 days."},
            "LOW #42 payments: Cert expires in 20 days. Reply ACK 42 or RES 42",
        ),
    ],
)
def test_the_reply_hint_offers_only_what_still_makes_sense(changes, expected):
    assert sms_text(page(**changes)) == expected


def test_a_status_notice_says_what_changed_and_what_is_left_to_do():
    notice = page(
        kind=NotificationKind.STATUS, actions=(RES,), incident_status="ACKNOWLEDGED",
        status_text="Acknowledged by Alice via Slack at Sat 28 Nov 2026, 14:02 UTC",
    )
    assert sms_text(notice) == "#42 Acknowledged by Alice via Slack at Sat 28 Nov 2026, 14:02 UTC. Reply RES 42"
    resolved = page(
        kind=NotificationKind.STATUS, actions=(), incident_status="RESOLVED",
        status_text="Resolved by Bob via phone at Sat 28 Nov 2026, 14:09 UTC",
    )
    assert sms_text(resolved) == "#42 Resolved by Bob via phone at Sat 28 Nov 2026, 14:09 UTC"


def test_a_test_page_is_short_and_says_nothing_is_wrong():
    text = sms_text(page(kind=NotificationKind.TEST, actions=()))
    assert text == TEST_TEXT and "Nothing is wrong" in text and sms_length(text) <= 160


# The GSM-7 extension table, written out here as the standard has it (3GPP TS 23.038).
ESCAPED = set("^{}\\[~]|€")


@given(st.text(alphabet=st.sampled_from("aZ09 .,:@£$_ΔΩÅäñü\n" + "".join(sorted(ESCAPED)) + "éжé€😀\u2019"), max_size=80))
def test_a_segment_counts_escaped_characters_twice_and_anything_else_in_utf16_units(text):
    gsm7 = all(char in "aZ09 .,:@£$_ΔΩÅäñü\n" or char in ESCAPED or char == "é" for char in text)
    assert is_gsm7(text) == gsm7
    expected = sum(2 if char in ESCAPED else 1 for char in text) if gsm7 else len(text.encode("utf-16-le")) // 2
    assert sms_length(text) == expected

