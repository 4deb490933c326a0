"""Rows written in batches: concurrent callers share one statement, one write at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class CoalescingWriter:
    """Writes rows in batches: callers await their own row; one write runs at a time.

    The first row after a quiet spell waits `gather_seconds` for others, then everything
    queued goes in one write; rows arriving during a write go together in the next one, at
    once. With `gather_seconds=0` the first row is written without delay.
    """

    def __init__(
        self,
        write: Callable[[list[tuple[Any, ...]]], Awaitable[None]],
        *,
        max_batch: int = 500,
        gather_seconds: float = 0.0,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._gather = gather_seconds
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, row: tuple[Any, ...]) -> asyncio.Future[None]:
        """Queue a row; the future resolves when its batch is written (or fails with it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        if self._gather > 0:
            await asyncio.sleep(self._gather)
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._write([row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
