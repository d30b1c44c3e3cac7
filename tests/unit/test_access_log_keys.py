"""Keys that sit in URL paths (heartbeats, Grafana OnCall integration URLs) never reach the
access log."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from bot.access_log import RedactingAccessLogger, redacted_path


@pytest.mark.parametrize(
    "path, shown",
    [
        ("/heartbeats/Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1", "/heartbeats/<token>"),
        ("/integrations/v1/webhook/Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1/", "/integrations/v1/webhook/<token>/"),
        ("/integrations/v1/alertmanager/Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1", "/integrations/v1/alertmanager/<token>"),
        ("/integrations/v1/grafana/Xr3kq9ZtLm2Pw8YbVn4Cd7Hs1/heartbeat/", "/integrations/v1/grafana/<token>/heartbeat/"),
        ("/webhooks/grafana", "/webhooks/grafana"),
    ],
)
def test_keys_in_paths_are_replaced(path, shown):
    assert redacted_path(path) == shown


def test_an_oncall_request_is_logged_without_its_key(caplog):
    request = SimpleNamespace(remote="127.0.0.1", method="POST", path="/integrations/v1/formatted_webhook/Secret0Key0Value0123/",
                              headers={"User-Agent": "curl"})
    logger = logging.getLogger("test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        RedactingAccessLogger(logger, "").log(request, SimpleNamespace(status=200, body_length=5), 0.01)
    assert "Secret0Key0Value0123" not in caplog.text
    assert "/integrations/v1/formatted_webhook/<token>/" in caplog.text
