"""The HTTP access log, without secrets: one-time tokens in paths are replaced and query strings
(OAuth codes and states) are left out; no Referer is logged."""
from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger

# Paths whose last segment is a credential.
_TOKEN_PATH = re.compile(r"^(/a|/push/p|/push/act|/calendar)/[^/]+")


def redacted_path(path: str) -> str:
    return _TOKEN_PATH.sub(r"\1/<token>", path)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request, response, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs "%s"',
            request.remote, request.method, redacted_path(request.path), response.status,
            response.body_length, time, request.headers.get("User-Agent", "-"),
        )
