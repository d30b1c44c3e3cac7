"""Block Kit for `/incident status` and `/incident list`: content, buttons that the click handler
understands, and Slack's limits on every incident shape."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.slack.status_blocks import list_message, status_message
from incidents.report import IncidentReport
from incidents.status_view import build_list_view, build_status_view
from tests.unit.status_samples import NOW, failed_everywhere, forty_people, incident, nobody_paged, typical

SAMPLES = {"typical": typical, "nobody paged": nobody_paged, "failed everywhere": failed_everywhere, "40 people": forty_people}


def assert_within_slack_limits(blocks: list[dict]) -> None:
    assert len(blocks) <= 50
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(element["text"]) <= 3000 for element in block["elements"])
        elif block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(button["text"]["text"]) <= 75 for button in block["elements"])


def _text(blocks) -> str:
    parts = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [element["text"] for element in block.get("elements", []) if isinstance(element.get("text"), str)]
    return "\n".join(parts)


def _buttons(blocks) -> list[tuple[str, str]]:
    return [(button["action_id"], button["value"]) for block in blocks if block["type"] == "actions" for button in block["elements"]]


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_incident_shape_stays_within_slacks_limits(sample):
    _, blocks = status_message(build_status_view(*SAMPLES[sample](), NOW, "Europe/Berlin"))
    assert_within_slack_limits(blocks)


def test_the_status_reads_per_person_with_symbols_words_and_the_next_tier():
    text, blocks = status_message(build_status_view(*typical(), NOW, "Europe/Berlin"))
    assert text == "#42 CRITICAL · DB primary down [TRIGGERED]"
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "🔴 #42 CRITICAL: DB primary down"}}
    assert blocks[1]["text"]["text"] == (
        "*Triggered* · Payments · db · 1 alert · level 1\nTriggered 14:00, waiting for someone to acknowledge"
    )
    assert blocks[2]["text"]["text"] == (
        "*Alice* · level 1\n✅ Slack: delivered 14:01\n❌ Email: failed: 550 5.1.1 mailbox unavailable\n"
        "⏭ SMS at 14:06 if nobody acknowledges"
    )
    assert "📨 SMS: sent 14:01, waiting for a receipt" in blocks[3]["text"]["text"]
    assert "*Team channel*\n✅ <#C0123>: delivered 14:00" in _text(blocks)
    assert "⚠️ No channel can reach Carol (level 1)\n⏭ Level 2 (Dave) at 14:10 if nobody acknowledges" in _text(blocks)
    assert _buttons(blocks) == [("acknowledge", "42"), ("resolve", "42")]
    assert blocks[-1]["elements"][0]["text"] == "Times in Europe/Berlin (CET)."


def test_a_resolved_incident_has_no_buttons_and_says_who():
    report, outlook, names = typical()
    done = incident(status="RESOLVED", resolved_at=NOW, resolved_by_name="Bob", resolved_via="SMS")
    _, blocks = status_message(build_status_view(IncidentReport(done, "Payments", report.notifications, ()), outlook, names, NOW, "UTC"))
    assert _buttons(blocks) == [] and "Resolved by Bob via SMS at 13:05" in _text(blocks)


def test_an_incident_with_no_pages_says_nobody_was_paged():
    _, blocks = status_message(build_status_view(*nobody_paged(), NOW, "UTC"))
    assert "Nobody was paged for this incident." in _text(blocks) and "no team" in _text(blocks)


def test_failed_everywhere_lists_every_error():
    _, blocks = status_message(build_status_view(*failed_everywhere(), NOW, "UTC"))
    text = _text(blocks)
    assert text.count("❌") == 12 and text.count("Twilio error 21614") == 3


def test_forty_people_are_summarised_failures_first_and_point_to_the_full_grid():
    view = build_status_view(*forty_people(), NOW, "UTC")
    _, blocks = status_message(view)
    text = _text(blocks)
    assert "*40 people paged:* ❌ 48 failed · ✅ 192 delivered" in text
    assert text.index("Person 05") < text.index("Person 01")  # failures first
    assert "*32 more, nothing failed:*" in text
    assert all(person.name in text for person in view.people)  # nobody left out silently
    assert "ackbot status 42" in text


def test_the_list_has_a_compact_block_and_buttons_per_incident():
    acknowledged = incident(43, "ACKNOWLEDGED", acknowledged_at=NOW, acknowledged_by_name="Alice", acknowledged_via="SLACK")
    view = build_list_view([acknowledged, incident()], False, NOW, "Europe/Berlin")
    text, blocks = list_message(view)
    assert_within_slack_limits(blocks)
    assert text.splitlines() == ["#43 CRITICAL · DB primary down [ACKNOWLEDGED]", "#42 CRITICAL · DB primary down [TRIGGERED]"]
    assert blocks[1]["text"]["text"] == (
        "🔴 *#43 CRITICAL* · DB primary down\nPayments · Acknowledged · 5 min ago · Acknowledged by Alice via Slack at 14:05"
    )
    assert _buttons(blocks) == [("resolve", "43"), ("acknowledge", "42"), ("resolve", "42")]


def test_a_long_list_stays_within_limits_and_says_more_are_open():
    incidents = [incident(number, triggered_at=NOW - timedelta(minutes=number)) for number in range(1, 21)]
    _, blocks = list_message(build_list_view(incidents, True, NOW, "UTC"))
    assert_within_slack_limits(blocks)
    assert "More are open: ackbot list on the command line." in _text(blocks)
    assert list_message(build_list_view([], False, NOW, "UTC"))[0] == "No open incidents."
