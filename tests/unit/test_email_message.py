"""The email a payload becomes, and the access log that must never show a token."""
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from bot.access_log import RedactingAccessLogger, redacted_path
from channels.email_message import build_message
from channels.types import NotificationAction, NotificationKind, NotificationPayload, Recipient


def payload(**changes) -> NotificationPayload:
    values = dict(
        incident_id=42, user_id=1, title="<script>alert(1)</script> & down", body="line 1\n<b>line 2</b>",
        priority="HIGH", service="payments", team_name="Payments", alert_count=3, escalation_level=2,
        dashboard_url=None, triggered_at=datetime(2026, 7, 4, 12, 0, tzinfo=UTC),
        recipient=Recipient(user_id=1, name="Alice", email="alice@example.com", time_zone="America/New_York"),
        notification_id=7,
        actions=(NotificationAction("acknowledge", "Acknowledge", "primary", "https://ackbot.test/a/T1"),),
    )
    values.update(changes)
    return NotificationPayload(**values)


def test_html_is_escaped_and_times_are_local():
    message = build_message(payload(), "pages@ackbot.test")
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;line 2" in html
    text = message.get_body(("plain",)).get_content()
    assert "Triggered: Sat 4 Jul 2026, 08:00 EDT" in text and "Acknowledge: https://ackbot.test/a/T1" in text
    assert message["Message-ID"].endswith("@ackbot.test>")


def test_a_long_title_keeps_the_subject_short():
    message = build_message(payload(title="x" * 400), "pages@ackbot.test")
    assert len(message["Subject"]) <= 150 and message["Subject"].endswith("…")


def test_a_test_page_says_so_and_offers_nothing():
    message = build_message(payload(kind=NotificationKind.TEST, actions=()), "pages@ackbot.test")
    assert message["Subject"] == "[TEST] Ackbot test page"
    assert "Nothing is wrong" in message.get_body(("plain",)).get_content()


def test_the_access_log_never_shows_tokens_or_query_strings(caplog):
    assert redacted_path("/a/abcDEF123") == "/a/<token>"
    assert redacted_path("/api/v1/incidents/4") == "/api/v1/incidents/4"
    request = SimpleNamespace(remote="127.0.0.1", method="POST", path="/a/secret-token-value",
                              path_qs="/a/secret-token-value?x=1", headers={"User-Agent": "curl"})
    response = SimpleNamespace(status=200, body_length=10)
    logger = logging.getLogger("test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        RedactingAccessLogger(logger, "").log(request, response, 0.01)
    assert "secret-token-value" not in caplog.text and "/a/<token>" in caplog.text
