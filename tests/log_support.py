"""Checks on captured logs: what a request may never leave behind in any logger."""
from __future__ import annotations


def assert_logs_clean(caplog, *secrets: str) -> None:
    """No record (of any logger, at any level) carries a traceback, nor any of ``secrets``
    (bodies, keys, URLs from the request) in its message."""
    for record in caplog.records:
        text = record.getMessage()
        assert record.exc_info is None and "Traceback" not in text, f"{record.name}: a traceback was logged: {text[:200]}"
        for secret in secrets:
            assert secret not in text, f"{record.name} logged request content: {text[:200]}"


def rejection_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "ackbot.rejected"]

