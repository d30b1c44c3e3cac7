"""What the log keeps of refused requests, through the real application on SQLite and
PostgreSQL: one short line (route, reason, size), never a body, a header, a key or a traceback
— including requests aiohttp itself cannot parse, sent here over a raw socket."""
from __future__ import annotations

import asyncio
import logging

import pytest

from app import create_app
from incidents import api_keys
from tests.log_support import assert_logs_clean, rejection_lines


@pytest.fixture
async def client(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.replace(max_body_bytes=4096)))
    client.key = await api_keys.ApiKeys().create("monitoring")
    return client


async def _raw_exchange(client, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


def _raw_post(key_header: bytes) -> bytes:
    return (
        b"POST /api/v1/incidents HTTP/1.1\r\nHost: ackbot.test\r\nContent-Type: application/json\r\n"
        + key_header + b"\r\nContent-Length: 2\r\n\r\n{}"
    )


@pytest.mark.parametrize("case", ["NUL after the key", "over-long header line"])
async def test_a_header_aiohttp_refuses_never_reaches_the_log(client, caplog, case):
    caplog.set_level(logging.DEBUG)
    key = client.key.encode()
    header = b"Authorization: Bearer " + key + (b"\x00" if case == "NUL after the key" else b"A" * 9000)
    answer = await _raw_exchange(client, _raw_post(header))
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400")
    assert_logs_clean(caplog, client.key, client.key[:16])
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    [line] = [record.getMessage() for record in caplog.records if record.name == "aiohttp.server"]
    assert line.startswith("rejected an HTTP request that could not be parsed: ")


async def test_a_wrong_api_key_leaves_one_line_without_the_key_or_body(client, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = client.key[:-4] + "XXXX"
    body = '{"title": "secret title"}'
    response = await client.post("/api/v1/incidents", data=body, headers={"Authorization": f"Bearer {wrong}"})
    assert response.status == 401
    assert_logs_clean(caplog, wrong, client.key, "secret title")
    assert rejection_lines(caplog) == [f"rejected POST /api/v1/incidents: missing or invalid API key ({len(body)} bytes)"]


async def test_a_body_over_the_limit_leaves_one_line(client, caplog):
    caplog.set_level(logging.DEBUG)
    body = '{"title": "' + "x" * 8000 + '"}'
    response = await client.post("/api/v1/incidents", data=body, headers={"Authorization": f"Bearer {client.key}"})
    assert response.status == 413
    assert_logs_clean(caplog, client.key, "xxxxxxxx")
    assert rejection_lines(caplog) == [f"rejected POST /api/v1/incidents: body too large ({len(body)} bytes)"]
