"""The replay rule for provider webhooks, on SQLite and PostgreSQL: a webhook runs once, however
many instances see it; a repeat gets the first answer; rows older than a day are pruned."""
from __future__ import annotations

import asyncio

import pytest

from incidents.webhook_replays import REMEMBER, answer_once
from storage.database import database
from storage.models import HandledWebhook
from tests.fakes.channel import FixedClock


class Handler:
    """A webhook handler that counts its runs; ``gate`` holds it until set."""

    def __init__(self, answer: str = "<Response>done</Response>", gate: asyncio.Event | None = None):
        self.answer = answer
        self.gate = gate
        self.runs = 0

    async def __call__(self) -> str:
        self.runs += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.answer


async def test_a_webhook_runs_once_and_a_repeat_gets_the_first_answer(storage):
    clock = FixedClock()
    first, repeat = Handler("first"), Handler("second")
    assert await answer_once("twilio-sms:SM1", first, "busy", clock()) == "first"
    assert await answer_once("twilio-sms:SM1", repeat, "busy", clock.advance(hours=23)) == "first"
    assert (first.runs, repeat.runs) == (1, 0)
    assert await answer_once("twilio-sms:SM2", repeat, "busy", clock()) == "second"


async def test_only_a_digest_of_the_identity_is_stored(storage):
    await answer_once("twilio-sms:SMsecretlooking", Handler(), "busy", FixedClock()())
    [row] = await database.list(HandledWebhook.select())
    assert "SMsecretlooking" not in row.key and len(row.key) == 64


async def test_of_concurrent_deliveries_one_runs_and_the_others_get_the_busy_answer(storage):
    gate = asyncio.Event()
    handler = Handler(gate=gate)
    now = FixedClock()()
    first = asyncio.create_task(answer_once("twilio-call:CA1:7:1", handler, "busy", now))
    while handler.runs == 0:
        await asyncio.sleep(0.01)
    repeats = await asyncio.gather(*(answer_once("twilio-call:CA1:7:1", handler, "busy", now) for _ in range(3)))
    gate.set()
    assert (await first, repeats, handler.runs) == ("<Response>done</Response>", ["busy"] * 3, 1)


async def test_a_failed_run_is_forgotten_so_a_retry_runs_afresh(storage):
    async def failing() -> str:
        raise RuntimeError("the database went away")

    now = FixedClock()()
    with pytest.raises(RuntimeError):
        await answer_once("twilio-sms:SM1", failing, "busy", now)
    assert await database.count(HandledWebhook.select()) == 0
    assert await answer_once("twilio-sms:SM1", Handler("retried"), "busy", now) == "retried"


async def test_after_a_day_rows_are_pruned_when_the_next_webhook_arrives(storage):
    clock = FixedClock()
    await answer_once("twilio-sms:SM1", Handler(), "busy", clock())
    await answer_once("twilio-sms:SM2", Handler(), "busy", clock.advance(hours=12))
    clock.advance(seconds=REMEMBER.total_seconds() - 12 * 3600 + 1)
    await answer_once("twilio-sms:SM3", Handler(), "busy", clock())
    assert await database.count(HandledWebhook.select()) == 2
