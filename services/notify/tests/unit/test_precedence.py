"""Routine work steps aside while critical work is under way, and only for a while."""

from __future__ import annotations

import asyncio

from shouwang_notify.service_layer.precedence import Precedence


async def test_routine_work_waits_while_a_critical_alert_is_planned_until_released() -> None:
    precedence = Precedence(seconds=600)
    precedence.hold()
    assert precedence.held
    waiting = asyncio.create_task(precedence.yield_to_critical())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    precedence.release()
    await asyncio.wait_for(waiting, 30)
    assert not precedence.held


async def test_routine_planning_waits_while_the_consumer_catches_up_on_a_burst() -> None:
    precedence = Precedence(seconds=600)
    precedence.catching_up(600)
    waiting = asyncio.create_task(precedence.yield_to_critical())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # Sending is not held back for a burst alone, only for critical alerts.
    assert not precedence.held
    precedence.caught_up()
    await asyncio.wait_for(waiting, 30)


async def test_routine_work_is_held_back_for_a_moment_never_stopped() -> None:
    precedence = Precedence(seconds=0.05)
    precedence.hold()
    precedence.catching_up(600)
    # Never released, never caught up: routine work goes on after the moment.
    await asyncio.wait_for(precedence.yield_to_critical(), 30)
