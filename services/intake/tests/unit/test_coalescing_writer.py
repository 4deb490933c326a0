"""Receipts share statements: rows queued together go in one write, and each caller learns
the fate of its own row."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from shouwang_intake.adapters.store import CoalescingWriter


class Recorder:
    """A write that records its batches; it can be made slow or made to fail."""

    def __init__(self, delay: float = 0.0, fail: Exception | None = None) -> None:
        self.batches: list[list[tuple[Any, ...]]] = []
        self.delay = delay
        self.fail = fail
        self.writing = asyncio.Event()

    async def __call__(self, rows: list[tuple[Any, ...]]) -> None:
        self.batches.append(rows)
        self.writing.set()
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail


async def test_rows_arriving_within_the_gathering_time_share_one_write() -> None:
    write = Recorder()
    writer = CoalescingWriter(write, gather_seconds=0.02)
    first = writer.submit((1,))
    await asyncio.sleep(0.005)
    rest = [writer.submit((n,)) for n in (2, 3)]
    await asyncio.gather(first, *rest)
    assert write.batches == [[(1,), (2,), (3,)]]


async def test_without_gathering_the_first_row_is_written_at_once() -> None:
    write = Recorder(delay=0.02)
    writer = CoalescingWriter(write)
    first = writer.submit((1,))
    await asyncio.sleep(0.005)
    assert write.batches == [[(1,)]]  # under way before the second row arrives
    second, third = writer.submit((2,)), writer.submit((3,))
    await asyncio.gather(first, second, third)
    assert write.batches == [[(1,)], [(2,), (3,)]]  # the next ones went together


async def test_rows_queued_during_a_write_go_next_without_waiting_again() -> None:
    write = Recorder(delay=0.05)
    writer = CoalescingWriter(write, gather_seconds=0.3)
    first = writer.submit((1,))
    await write.writing.wait()  # gathered, now writing
    second = writer.submit((2,))
    loop = asyncio.get_running_loop()
    await first
    started = loop.time()
    await second
    assert write.batches == [[(1,)], [(2,)]]
    assert loop.time() - started < 0.2  # its own write, not another 0.3 s of gathering


async def test_a_failed_write_fails_every_row_in_it_and_the_writer_goes_on() -> None:
    failing = Recorder(fail=RuntimeError("database went away"))
    writer = CoalescingWriter(failing, gather_seconds=0.01)
    rows = [writer.submit((n,)) for n in range(3)]
    outcomes = await asyncio.gather(*rows, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["database went away"] * 3

    failing.fail = None
    await writer.submit((4,))
    assert failing.batches[-1] == [(4,)]


async def test_batches_are_cut_at_the_maximum() -> None:
    write = Recorder()
    writer = CoalescingWriter(write, max_batch=2, gather_seconds=0.01)
    await asyncio.gather(*(writer.submit((n,)) for n in range(5)))
    assert [len(b) for b in write.batches] == [2, 2, 1]


@pytest.mark.parametrize("gather", [0.0, 0.01])
async def test_a_cancelled_caller_does_not_stop_the_others(gather: float) -> None:
    write = Recorder(delay=0.01)
    writer = CoalescingWriter(write, gather_seconds=gather)
    first, second = writer.submit((1,)), writer.submit((2,))
    first.cancel()
    await second
    assert [row for batch in write.batches for row in batch] == [(1,), (2,)]
