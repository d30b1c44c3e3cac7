"""What Ackbot logs about requests, without secrets: the access log (one-time tokens and keys in
paths replaced, query strings and Referer left out) and the one line a rejected request gets."""
from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

# Paths with a credential as a segment: one-time tokens, calendar feed tokens, heartbeat keys,
# and the integration key of Grafana OnCall's URLs (/integrations/v1/{type}/{key}/…).
_TOKEN_PATH = re.compile(r"^(/a|/push/p|/push/act|/calendar|/heartbeats|/integrations/v1/[^/]+)/[^/]+")

rejections = logging.getLogger("ackbot.rejected")


def redacted_path(path: str) -> str:
    return _TOKEN_PATH.sub(r"\1/<token>", path)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request, response, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs "%s"',
            request.remote, request.method, redacted_path(request.path), response.status,
            response.body_length, time, request.headers.get("User-Agent", "-"),
        )


def log_rejected(request: web.BaseRequest, reason: str, size: int | None = None) -> None:
    """The one line a refused request gets: route, reason, size — never its body or headers.

    ``reason`` is Ackbot's own words (never text taken from the request); ``size`` is the body's
    length in bytes, by default the declared Content-Length ("?" for a chunked body).
    """
    if size is None:
        size = request.content_length if request.body_exists else 0
    rejections.info(
        "rejected %s %s: %s (%s bytes)", request.method, redacted_path(request.path), reason,
        "?" if size is None else size,
    )


class UnparsedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse itself (a NUL byte in a header, a line over 8 KiB)
    at ERROR, with the raw line — an API key included — in the exception. On its server logger
    this filter makes every such record the short rejection line, and any other exception there
    its type alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "rejected an HTTP request that could not be parsed: %s", (type(error).__name__,)
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        else:
            record.msg, record.args = "%s (%s)", (record.getMessage(), type(error).__name__)
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def install_log_filters() -> None:
    """Put ``UnparsedRequestFilter`` on aiohttp's server logger (once)."""
    server_logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(existing, UnparsedRequestFilter) for existing in server_logger.filters):
        server_logger.addFilter(UnparsedRequestFilter())
