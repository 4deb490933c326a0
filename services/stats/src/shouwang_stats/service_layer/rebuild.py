"""Rebuild the projection from the topics' beginning into a fresh generation and swap it in.

1. Take the rebuild lock (one rebuilder among the replicas) and open a `building` generation.
2. Read every topic from its beginning up to the ends seen at the start, folding in memory.
3. Copy the rows into the new generation.
4. Catch up what arrived meanwhile (through the same fold the live consumers use).
5. Swap the generation in, then catch up once more: a live batch still writing into the
   old generation while the swap committed holds records fetched before it, so before the
   ends read after it, and this second catch-up covers them. From the swap on, the live
   consumers write into the new generation themselves.
6. Delete the old generation's rows (after the swap: the rebuild's time ends at the swap).

Folding is idempotent, so records that reach the new generation twice (by a catch-up and by
the live consumers) change nothing. Readers see the old generation until the swap, then the
new one: never a half-built projection. Records that break their contract were
dead-lettered by the live consumers already; a rebuild skips and counts them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import resource
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from aiokafka import TopicPartition
from shouwang_contracts.kafka import PoisonEvent

from ..adapters import generations
from ..adapters.db import Conn
from ..adapters.rows import copy_generation, delete_generation, fold_into
from ..domain.projection import Projection
from .events import rows_of

logger = logging.getLogger("shouwang.stats.rebuild")

#: The version of the projection rules. Raise it when a rule changes what a row holds: a
#: service whose active generation is older rebuilds on start.
PROJECTION_VERSION = 1

Offsets = Mapping[TopicPartition, int]


class EventLog(Protocol):
    """The topics to replay (adapters.replay.TopicLog); picklable, for replay workers."""

    async def end_offsets(self) -> dict[TopicPartition, int]: ...

    def read(
        self, end: Offsets, start: Offsets | None = None, max_records: int = 10_000
    ) -> AsyncIterator[list[Any]]: ...


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a rebuild did; `peak_rss_kib` is the most any one of its processes held."""

    generation: int
    retired: int | None
    records: int
    skipped: int
    rows: int
    seconds: float
    workers: int
    peak_rss_kib: int
    # Where the time went: replaying (reading, decoding, folding), copying, catching up.
    phases: dict[str, float]


@dataclass(frozen=True, slots=True)
class Replayed:
    """What replaying one share of the partitions into a generation did."""

    records: int
    skipped: int
    rows: int
    peak_rss_kib: int
    replay_seconds: float
    copy_seconds: float


async def rebuild(
    pool: asyncpg.Pool,
    log: EventLog,
    *,
    version: int = PROJECTION_VERSION,
    workers: int = 1,
    database_url: str | None = None,
) -> Rebuilt | None:
    """Rebuild and swap; None when another process holds the rebuild lock.

    With `workers` > 1 (and the `database_url` they connect with) the replay runs in that
    many processes, each reading its share of the partitions (see `shares`).
    """
    async with pool.acquire() as holder:
        if not await generations.try_rebuild_lock(holder):
            logger.info("another process is rebuilding the projection")
            return None
        try:
            return await _rebuild(pool, holder, log, version, workers, database_url)
        finally:
            await generations.release_rebuild_lock(holder)


async def _rebuild(
    pool: asyncpg.Pool,
    conn: Conn,
    log: EventLog,
    version: int,
    workers: int,
    database_url: str | None,
) -> Rebuilt:
    began = time.perf_counter()
    generation = await generations.start_building(conn, version)
    logger.info("rebuilding the projection into generation %d (rules v%d)", generation, version)
    try:
        ends = await log.end_offsets()
        parts = shares(ends, workers if database_url else 1)
        if len(parts) == 1:
            replayed = [await _copy_share(log, conn, generation, ends)]
        else:
            assert database_url is not None
            replayed = await _replay_in_processes(log, database_url, generation, parts)
        records = sum(r.records for r in replayed)
        skipped = sum(r.skipped for r in replayed)
        rows = sum(r.rows for r in replayed)
        peak = max(_peak_rss_kib(), *(r.peak_rss_kib for r in replayed))
        caught_up = time.perf_counter()
        middle = await log.end_offsets()
        caught, missed = await catch_up(pool, log, generation, ends, middle)
        retired = await generations.activate(conn, generation, records + caught)
        after = await log.end_offsets()
        late, missed_late = await catch_up(pool, log, generation, middle, after)
        phases = {
            "replay": max(r.replay_seconds for r in replayed),
            "copy": max(r.copy_seconds for r in replayed),
            "catch_up": time.perf_counter() - caught_up,
        }
    except BaseException:
        async with conn.transaction():
            await delete_generation(conn, generation)
            await conn.execute(
                "DELETE FROM projection WHERE generation = $1 AND state = 'building'", generation
            )
        raise
    done = Rebuilt(
        generation=generation,
        retired=retired,
        records=records + caught + late,
        skipped=skipped + missed + missed_late,
        rows=rows,
        seconds=time.perf_counter() - began,
        workers=len(parts),
        peak_rss_kib=max(peak, _peak_rss_kib()),
        phases={name: round(seconds, 3) for name, seconds in phases.items()},
    )
    logger.info(
        "generation %d active: %d records replayed (%d skipped) into %d rows in %.1f s",
        generation,
        done.records,
        done.skipped,
        rows,
        done.seconds,
    )
    # Housekeeping once the new generation serves: the old one's rows go now, outside the
    # rebuild's time (readers no longer see them).
    await generations.clear_inactive(conn)
    return done


def shares(ends: Offsets, workers: int) -> list[dict[TopicPartition, int]]:
    """Split the partitions among `workers` so that no row is folded by two of them.

    Every event is keyed by its student, and every topic partitions keys alike, so partition
    n of every topic holds the same students. Worker k takes the partitions whose number is
    k modulo `workers`, and the workers' rows never overlap: each can copy its own. Topics
    partitioned differently could spread one student over two workers: then one replays all.
    """
    counts: defaultdict[str, int] = defaultdict(int)
    for tp in ends:
        counts[tp.topic] += 1
    if workers <= 1 or len(set(counts.values())) != 1:
        return [dict(ends)]
    split: list[dict[TopicPartition, int]] = [{} for _ in range(min(workers, *counts.values()))]
    for tp, end in ends.items():
        split[tp.partition % len(split)][tp] = end
    return split


async def _replay_in_processes(
    log: EventLog, database_url: str, generation: int, parts: list[dict[TopicPartition, int]]
) -> list[Replayed]:
    loop = asyncio.get_running_loop()
    # Spawned, not forked: a fork would copy this process's event loop and connections.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=context) as pool:
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _replay_share, log, database_url, generation, part)
                    for part in parts
                )
            )
        )


def _replay_share(
    log: EventLog, database_url: str, generation: int, ends: dict[TopicPartition, int]
) -> Replayed:
    """A worker process: replay its partitions and copy its rows into the generation.

    The cyclic garbage collector is off in the worker: it would rescan the hundreds of
    thousands of rows the replay holds every few hundred allocations (a fifth to a third of
    the replay's time, measured), while what a replay throws away (events, records) is freed
    by reference counting anyway. The process ends with the replay.
    """
    gc.disable()
    return asyncio.run(_connect_and_copy(log, database_url, generation, ends))


async def _connect_and_copy(
    log: EventLog, database_url: str, generation: int, ends: dict[TopicPartition, int]
) -> Replayed:
    conn = await asyncpg.connect(database_url)
    try:
        return await _copy_share(log, conn, generation, ends)
    finally:
        await conn.close()


async def _copy_share(
    log: EventLog, conn: Conn, generation: int, ends: Mapping[TopicPartition, int]
) -> Replayed:
    """Replay `ends`' partitions in memory, then copy the rows into the generation."""
    began = time.perf_counter()
    projection, records, skipped = await replay(log, ends)
    replayed = time.perf_counter()
    async with conn.transaction():
        rows = await copy_generation(conn, generation, projection)
    copied = time.perf_counter()
    return Replayed(records, skipped, rows, _peak_rss_kib(), replayed - began, copied - replayed)


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def replay(log: EventLog, ends: Offsets) -> tuple[Projection, int, int]:
    """Fold every record up to `ends` in memory: (projection, records read, records skipped)."""
    projection = Projection()
    records = skipped = 0
    async for batch in log.read(ends):
        for record in batch:
            try:
                rows = rows_of(record.value, record.headers)
            except PoisonEvent:
                skipped += 1
                continue
            for row in rows:
                projection.fold(row)
        records += len(batch)
    return projection, records, skipped


async def catch_up(
    pool: asyncpg.Pool, log: EventLog, generation: int, start: Offsets, end: Offsets
) -> tuple[int, int]:
    """Fold the records between `start` and `end` into a stored generation, batch by batch."""
    if all(end[tp] <= start.get(tp, 0) for tp in end):
        return 0, 0
    records = skipped = 0
    async for batch in log.read(end, start):
        folded = Projection()
        for record in batch:
            try:
                folded.fold_all(rows_of(record.value, record.headers))
            except PoisonEvent:
                skipped += 1
        async with pool.acquire() as conn, conn.transaction():
            await fold_into(conn, generation, folded)
        records += len(batch)
    return records, skipped
