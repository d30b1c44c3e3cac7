"""Pure parts of the Slack app: the incident card, the manifest, and telling repeats apart."""
from __future__ import annotations

import json

from app import main
from bot.slack.config import BOT_SCOPES, LINK_USER_SCOPES
from bot.slack.manifest import render_manifest
from bot.slack.replays import ReplayGuard, interaction_key
from channels.slack_blocks import fallback_text, incident_card
from channels.types import NotificationAction, NotificationKind, Recipient
from tests.unit.test_channel_contract import make_payload

RESOLVE = NotificationAction("resolve", "Resolve", "danger")


def _text(blocks) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_the_card_escapes_slack_markup_and_keeps_within_slack_limits():
    payload = make_payload(title="x" * 400, body="<!channel> & <https://evil|click> " + "y" * 5000)
    blocks = incident_card(payload)
    assert len(blocks[0]["text"]["text"]) <= 150
    body = blocks[2]["text"]["text"]
    assert len(body) <= 3000 and "<!channel>" not in body and "&lt;!channel&gt; &amp;" in body


def test_a_status_card_says_what_happened_and_keeps_only_the_buttons_left():
    payload = make_payload(
        kind=NotificationKind.STATUS, incident_status="ACKNOWLEDGED", actions=(RESOLVE,),
        status_text="Acknowledged by Alice via email at Sat 28 Nov 2026, 14:02 UTC",
    )
    blocks = incident_card(payload)
    assert "*Acknowledged by Alice via email at Sat 28 Nov 2026, 14:02 UTC*" in _text(blocks)
    [actions] = [block for block in blocks if block["type"] == "actions"]
    assert [(button["action_id"], button["style"], "confirm" in button) for button in actions["elements"]] == [
        ("resolve", "danger", True)
    ]
    assert fallback_text(payload).endswith("· Acknowledged by Alice via email at Sat 28 Nov 2026, 14:02 UTC")


def test_a_resolved_card_has_no_buttons_and_times_are_in_the_readers_zone():
    payload = make_payload(
        incident_status="RESOLVED", recipient=Recipient(user_id=7, name="Alice", time_zone="America/New_York"),
    )
    blocks = incident_card(payload)
    assert not any(block["type"] == "actions" for block in blocks)
    assert "Sat 28 Nov 2026, 09:02 EST" in _text(blocks)


def test_the_manifest_points_every_url_at_the_public_url_and_asks_for_the_scopes_used():
    manifest = json.loads(render_manifest("https://ackbot.example.com/"))
    settings = manifest["settings"]
    urls = {
        manifest["features"]["slash_commands"][0]["url"], settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    }
    assert urls == {"https://ackbot.example.com/slack/events"}
    assert manifest["oauth_config"]["redirect_urls"] == ["https://ackbot.example.com/slack/oauth_redirect"]
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert tuple(manifest["oauth_config"]["scopes"]["user"]) == LINK_USER_SCOPES
    assert manifest["features"]["slash_commands"][0]["command"] == "/incident"
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_uninstalled", "tokens_revoked"}


def test_interactions_are_told_apart_by_what_slack_says_is_unique():
    click = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "acknowledge", "action_ts": "1.2"}]}
    assert interaction_key(click) == "action:U1:acknowledge:1.2"
    assert interaction_key({"type": "event_callback", "event_id": "Ev9"}) == "event:Ev9"
    assert interaction_key({"command": "/incident", "trigger_id": "t1"}) == "command:t1"
    assert interaction_key({"type": "url_verification"}) is None


def test_the_guard_forgets_after_its_window():
    now = [0.0]
    guard = ReplayGuard(clock=lambda: now[0], remember=600)
    assert guard.first_time("a") and not guard.first_time("a")
    now[0] = 601
    assert guard.first_time("a")


def test_the_guard_forgets_the_oldest_first_and_stays_bounded():
    now = [0.0]
    guard = ReplayGuard(clock=lambda: now[0], remember=600, most=100)
    for index in range(250):
        now[0] = index
        assert guard.first_time(f"k{index}")
    assert all(not guard.first_time(f"k{index}") for index in range(150, 250)), "the newest 100 are remembered"
    assert guard.first_time("k0"), "the oldest was forgotten to stay within 100"
    now[0] = 249 + 600
    assert guard.first_time("k249") and len(guard._seen) == 1, "everything older than the window is gone"


def test_ackbot_manifest_slack_prints_the_manifest_for_the_public_url(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://pager.example.org")
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path))
    assert main(["manifest", "slack"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["settings"]["interactivity"]["request_url"] == "https://pager.example.org/slack/events"
    assert list(tmp_path.iterdir()) == [], "printing a manifest touches no storage"
