"""The JSON body reader every JSON route shares: its limits, exactly at and past the edge."""
from __future__ import annotations

import json

import pytest

from bot.json_body import MAX_DEPTH, MAX_NUMBER_DIGITS, parse_json
from incidents.intake import IntakeError


def _refusal(raw: bytes) -> tuple[int, str | None]:
    with pytest.raises(IntakeError) as refused:
        parse_json(raw)
    return refused.value.status, refused.value.field


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused():
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert _refusal(b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}") == (400, None)


def test_numbers_up_to_the_limit_are_read_and_longer_ones_name_their_field():
    assert parse_json(b'{"n": -' + b"9" * MAX_NUMBER_DIGITS + b"}") == {"n": -int("9" * MAX_NUMBER_DIGITS)}
    assert _refusal(b'{"a": {"n": ' + b"9" * (MAX_NUMBER_DIGITS + 1) + b"}}") == (422, "a.n")
    assert _refusal(b'{"list": [1, 2.5, -1e400]}') == (422, "list[2]")
    assert parse_json(b'{"x": 1.5e300}') == {"x": 1.5e300}


@pytest.mark.parametrize("raw", [b"Infinity", b"[-Infinity]", b'{"a": NaN}'])
def test_non_json_constants_are_refused(raw):
    assert _refusal(raw) == (400, None)


def test_text_that_no_database_stores_alike_is_refused_naming_where_it_is():
    assert _refusal(b'{"a": ["ok", "x\\u0000"]}') == (422, "a[1]")
    assert _refusal(b'{"a": {"b\\u0000": 1}}') == (422, "a")
    assert _refusal(b'{"a": "\\udc00 \\u00e9"}') == (422, "a")
    assert parse_json('{"a": "caf\\u00e9 \\ud83d\\ude00 ü"}'.encode()) == {"a": "café 😀 ü"}


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"{", b""])
def test_what_is_not_utf8_json_is_a_400(raw):
    assert _refusal(raw) == (400, None)


def test_many_brackets_at_a_shallow_depth_are_read_and_a_deep_one_among_them_is_refused():
    shallow = [{"a": [1]}] * MAX_DEPTH
    assert parse_json(json.dumps(shallow).encode()) == shallow
    deep = b"[" + json.dumps(shallow).encode() + b", " + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"]"
    assert _refusal(deep) == (400, None)
