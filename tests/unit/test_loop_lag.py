"""``incidents.loop_lag``: near zero while the loop keeps up, up while something holds it at every
turn, and not moved by one long hold."""
from __future__ import annotations

import asyncio
import time

from incidents.loop_lag import LoopLag


async def test_the_lag_follows_a_loop_held_at_every_turn_and_not_one_held_once():
    lag = LoopLag(interval=0.01)
    assert lag.seconds() == 0.0  # starts measuring
    await asyncio.sleep(0.1)
    assert lag.seconds() < 0.03
    time.sleep(0.2)  # held once
    await asyncio.sleep(0.03)
    assert lag.seconds() < 0.03

    async def hog():
        while True:
            time.sleep(0.06)  # the loop held at every turn
            await asyncio.sleep(0)

    holding = asyncio.create_task(hog())
    await asyncio.sleep(1.0)  # each reading now takes two holds: a handful of them
    assert lag.seconds() > 0.04
    holding.cancel()
    await asyncio.sleep(0.3)
    assert lag.seconds() < 0.03
    await lag.stop()
