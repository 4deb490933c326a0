"""Reading uploaded spreadsheets (XLSX, CSV) without trusting them: the safe spreadsheet reader.

An upload is hostile until read. A 5 KB XLSX whose `<dimension>` tag claims `A1:XFD1048576`
makes openpyxl pad about 1M × 16,384 cells; a few kilobytes of zip unpack to gigabytes of
shared strings; a CSV can be one endless field. So `read_sheet`:

- parses in a worker process (a fresh interpreter per upload), never on the service's event
  loop, under a CPU-time and an address-space limit (`SheetLimits`), at a lower scheduling
  priority than the service, and gives up when the worker stops producing rows for
  `stall_seconds`;
- refuses an XLSX whose members unpack to more than `max_unpacked_bytes` before reading it;
- ignores the sheet's dimension tag and builds each row from the cells it really holds,
  refusing a cell beyond `max_columns` before padding the row to it;
- counts every row number, empty rows too, against `max_rows`, naming the row at fault;
- reads CSV in UTF-8 (with or without BOM), UTF-16 (with BOM) or GB18030;
- streams the rows back in batches, so a caller that publishes as it reads keeps the rows
  read before a damaged part, and is told after which row reading stopped.

Refusals are `SheetRefused`: a stable `code`, zh-CN and English messages, the HTTP status
it calls for (413 over a limit, 415 not a table at all, 422 a damaged table), the row at
fault and the limit passed. Used by intake's census, casework's roster import and
notify's contacts import:

    async for rows in read_sheet(data, limits=SheetLimits(max_rows=100_000)):
        for number, cells in rows:  # spreadsheet row numbers (the header is usually 1)
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, BinaryIO

from .sheet_reader import (
    NOT_A_TABLE,
    Cell,
    MiB,
    Row,
    SheetLimits,
    SheetRefused,
    checked_rows,
    detect_encoding,
)

_BATCH_ROWS = 500
_MAX_MESSAGE = 64 * MiB  # a batch of rows as JSON, far above what 500 capped rows make


# --- the parent's side -----------------------------------------------------------------------
#
# The worker is a fresh interpreter (`python -m shouwang_servicekit.spreadsheets`), not a
# multiprocessing child: a forked or forkserver child re-runs the service's __main__ (the whole
# app) before it starts, and a fork of a threaded service is unsafe. It reads the upload from
# stdin and writes length-prefixed JSON messages on stdout. JSON, not pickle: the worker parses
# hostile input, so what it says must not be able to run code in the service.


async def read_sheet(data: bytes, *, limits: SheetLimits | None = None) -> AsyncIterator[list[Row]]:
    """The non-empty rows of the upload's first sheet (or the CSV), in batches, read by a
    worker process within `limits`; raises `SheetRefused`."""
    limits = limits or SheetLimits()
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        json.dumps(dataclasses.asdict(limits)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=_MAX_MESSAGE,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    last_row = 0
    try:
        worker.stdin.write(data)
        with contextlib.suppress(ConnectionError):  # a worker that refused early stops reading
            await worker.stdin.drain()
            worker.stdin.close()
        while True:
            kind, payload = await _next_message(worker, limits, last_row)
            if kind == "rows":
                rows = [(number, [_from_json(c) for c in cells]) for number, cells in payload]
                if rows:
                    last_row = rows[-1][0]
                yield rows
            elif kind == "refused":
                raise SheetRefused(**payload)
            else:
                return
    finally:
        if worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
        await worker.wait()


async def _next_message(
    worker: asyncio.subprocess.Process, limits: SheetLimits, last_row: int
) -> tuple[str, Any]:
    assert worker.stdout is not None
    try:
        head = await asyncio.wait_for(worker.stdout.readexactly(4), limits.stall_seconds)
        body = await asyncio.wait_for(
            worker.stdout.readexactly(int.from_bytes(head, "big")), limits.stall_seconds
        )
    except TimeoutError:
        worker.kill()
        raise _too_costly(limits, last_row, "time") from None
    except asyncio.IncompleteReadError:
        code = await worker.wait()
        raise _too_costly(
            limits, last_row, "cpu" if code == -signal.SIGXCPU else "memory"
        ) from None
    kind, payload = json.loads(body)
    return kind, payload


def _too_costly(limits: SheetLimits, last_row: int, why: str) -> SheetRefused:
    return SheetRefused(
        "sheet_too_costly",
        "表格读取超出了处理时间或内存的上限，请拆分文件或删去多余的行列后重试",
        f"reading the sheet went over its {why} budget; split the file or remove unused "
        "rows and columns",
        status=413,
        last_row=last_row,
    )


def _to_json(cell: Cell) -> Any:
    return {"$dt": cell.isoformat()} if isinstance(cell, datetime) else cell


def _from_json(value: Any) -> Cell:
    if isinstance(value, dict):
        return datetime.fromisoformat(str(value["$dt"]))
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return str(value)


# --- the worker's side -----------------------------------------------------------------------
#
# It parses with `sheet_reader` (XLSX, CSV, the row and column checks) under its limits, and
# sends what it read as messages.


def _send(out: BinaryIO, kind: str, payload: Any) -> None:
    body = json.dumps([kind, payload], ensure_ascii=False).encode()
    out.write(len(body).to_bytes(4, "big") + body)
    out.flush()


def _work(limits: SheetLimits, data: bytes, out: BinaryIO) -> None:
    """In the worker: read, send rows in batches, then the end or the refusal."""
    batch: list[Any] = []
    last_row = 0
    try:
        for number, cells in checked_rows(data, limits):
            batch.append([number, [_to_json(c) for c in cells]])
            last_row = number
            if len(batch) >= _BATCH_ROWS:
                _send(out, "rows", batch)
                batch = []
        _send(out, "rows", batch)
        _send(out, "done", None)
    except SheetRefused as refused:
        _send(out, "rows", batch)
        refused.last_row = refused.last_row or last_row
        _send(out, "refused", refused.as_dict())
    except MemoryError:
        batch = []  # let go of what filled the budget before saying so
        _send(out, "refused", _too_costly(limits, last_row, "memory").as_dict())


def _worker_main(argv: list[str]) -> None:
    """The worker's entry: limit this process first, then read the upload from stdin."""
    import resource

    limits = SheetLimits(**json.loads(argv[0]))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    with contextlib.suppress(OSError):
        os.nice(10)  # the service's requests come first on a shared core
    data = sys.stdin.buffer.read()
    _work(limits, data, sys.stdout.buffer)


__all__ = [
    "NOT_A_TABLE",
    "Cell",
    "Row",
    "SheetLimits",
    "SheetRefused",
    "detect_encoding",
    "read_sheet",
]


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
