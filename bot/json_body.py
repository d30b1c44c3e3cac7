"""Reading a JSON request body, for every route that takes one: whatever an outsider sends, the
answer is a parsed value or an ``IntakeError`` (400 for the body as a whole, 422 naming the
field), never an exception the server did not expect.

Python's ``json`` alone lets through what breaks later: nesting deep enough to exhaust the stack,
integers longer than Python converts (4,300 digits), ``NaN``/``Infinity``, and strings PostgreSQL
cannot store (NUL) or no database can encode (lone surrogates, from ``\\ud800`` escapes). SQLite
stores a NUL that PostgreSQL refuses, so refusing it here keeps both databases answering alike.
The size limit is aiohttp's ``client_max_size`` (413), applied by ``request.read()``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable

from aiohttp import web

from incidents.intake import IntakeError

MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 64


class _OversizedNumber(str):
    """A number's text too long or too large to be a value; refused with its field's path."""


class _Oversized(Exception):
    """A number too long or too large was read: the body is read again to name its field."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Oversized
    return int(text)


def _real(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Oversized
    return value


def _marked(read: Callable[[str], object]) -> Callable[[str], object]:
    def read_or_mark(text: str) -> object:
        try:
            return read(text)
        except _Oversized:
            return _OversizedNumber(text)
    return read_or_mark


def _constant(name: str):
    raise IntakeError(None, f"the body is not valid JSON ({name} is not a JSON value)", 400)


# Made once: json.loads with hooks makes a decoder (and its scanner) for every body.
_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_real, parse_constant=_constant)
_MARKING_DECODER = json.JSONDecoder(parse_int=_marked(_integer), parse_float=_marked(_real), parse_constant=_constant)


def rejection_reason(problem: IntakeError) -> str:
    """The rejection log line's reason for ``problem``: Ackbot's words, not the field's name
    (an unknown field's name is the sender's text)."""
    return "the body is not valid JSON" if problem.status == 400 else "a field was refused"


async def read_json(request: web.Request) -> object:
    """The request's body as JSON, checked as ``parse_json`` does."""
    return parse_json(await request.read())


def parse_json(raw: bytes) -> object:
    """``raw`` as a JSON value, refused with an IntakeError when it is not UTF-8 JSON, is nested
    more than MAX_DEPTH levels, holds a number of more than MAX_NUMBER_DIGITS digits (or one too
    large for a float), or a string (a key or a value) with a NUL or a lone surrogate."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntakeError(None, "the body is not UTF-8 text", 400) from None
    try:
        value = _loads(_DECODER, text)
    except _Oversized:
        value = _loads(_MARKING_DECODER, text)
        _check(value)
    # JSON's strings can hold a NUL or a lone surrogate only as a \u escape, and a body with at
    # most MAX_DEPTH brackets cannot nest deeper: most bodies need no walk.
    if b"\\u" in raw or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        _check(value)
    return value


def _loads(decoder: json.JSONDecoder, text: str) -> object:
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as problem:
        raise IntakeError(None, f"the body is not valid JSON ({problem})", 400) from None
    except RecursionError:
        raise IntakeError(None, f"the body is nested more than {MAX_DEPTH} levels deep", 400) from None


def _check(value: object) -> None:
    """Walks ``value`` without recursion, refusing what ``parse_json`` documents."""
    pending: list[tuple[object, str | None, int]] = [(value, None, 1)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, _OversizedNumber):
            raise IntakeError(path, f"a number of at most {MAX_NUMBER_DIGITS} digits expected")
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise IntakeError(None, f"the body is nested more than {MAX_DEPTH} levels deep", 400)
        if isinstance(item, list):
            pending.extend((child, f"{path or ''}[{index}]", depth + 1) for index, child in enumerate(item))
            continue
        for key, child in item.items():
            _check_text(key, path)
            pending.append((child, f"{path}.{key}" if path else key, depth + 1))


def _check_text(text: str, path: str | None) -> None:
    if "\x00" in text:
        raise IntakeError(path, "must not contain NUL characters (\\u0000)")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise IntakeError(path, "must be valid Unicode (a lone surrogate escape such as \\ud800 is not)") from None
