"""A channel's rate limit serves urgent messages ahead of routine ones."""

from __future__ import annotations

import asyncio

from shouwang_notify.service_layer.rates import ChannelRate


async def test_an_urgent_message_waits_behind_at_most_one_routine_one() -> None:
    rate = ChannelRate(50.0)
    for _ in range(50):  # the bucket is full: each further message waits its turn
        await rate.wait()
    order: list[str] = []

    async def send(name: str, urgent: bool) -> None:
        await rate.wait(urgent=urgent)
        order.append(name)

    routine = [asyncio.create_task(send(f"routine{n}", False)) for n in range(4)]
    await asyncio.sleep(0)  # the routine ones are queued first
    await asyncio.gather(send("urgent", True), *routine)
    assert order.index("urgent") <= 1, order


def test_a_lane_holds_about_two_seconds_of_a_throttled_channel() -> None:
    assert ChannelRate(0.33).in_flight_cap(2.0, 20) == 1  # a robot: one at a time
    assert ChannelRate(5.0).in_flight_cap(2.0, 20) == 10
    assert ChannelRate(100_000.0).in_flight_cap(2.0, 20) == 20
