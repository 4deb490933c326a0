"""The safe spreadsheet reader: hostile uploads are refused within their budgets, real ones
read in every encoding colleges export."""

from __future__ import annotations

import asyncio
import io
import time

import openpyxl
import pytest
from shouwang_devstack.hostile_files import dimension_bomb, shared_strings_bomb, wide_row
from shouwang_servicekit.spreadsheets import Row, SheetLimits, SheetRefused, read_sheet

HEADER = ["学号", "姓名", "第1题"]


async def _read(data: bytes, limits: SheetLimits | None = None) -> list[Row]:
    return [row async for batch in read_sheet(data, limits=limits) for row in batch]


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_a_sheet_claiming_the_whole_grid_is_read_as_the_cells_it_holds() -> None:
    """openpyxl pads read-only rows to the sheet's <dimension>: 5 KB claiming A1:XFD1048576
    would be a billion cells."""
    rows = await _read(dimension_bomb(HEADER, far_cell=False))
    assert rows == [(1, HEADER)]


async def test_a_cell_in_the_last_row_of_the_grid_is_refused_by_the_row_limit() -> None:
    with pytest.raises(SheetRefused) as refused:
        await _read(dimension_bomb(HEADER), SheetLimits(max_rows=1000))
    assert refused.value.code == "too_many_rows"
    assert refused.value.status == 413
    assert refused.value.row == 1048576
    assert "1048576" in refused.value.message


async def test_empty_rows_count_against_the_row_limit() -> None:
    data = "\n".join(["a,b", "1,2", *[","] * 50, "3,4"]).encode()
    assert [n for n, _ in await _read(data, SheetLimits(max_rows=60))] == [1, 2, 53]
    with pytest.raises(SheetRefused) as refused:
        await _read(data, SheetLimits(max_rows=40))
    assert (refused.value.code, refused.value.row) == ("too_many_rows", 42)


async def test_a_cell_beyond_the_column_limit_is_refused_before_its_row_is_padded() -> None:
    with pytest.raises(SheetRefused) as refused:
        await _read(wide_row(HEADER, "XFD"), SheetLimits(max_columns=50))
    assert refused.value.code == "too_many_columns"
    assert (refused.value.row, refused.value.limit) == (2, 50)


async def test_an_xlsx_that_unpacks_too_large_is_refused_before_it_is_opened() -> None:
    bomb = shared_strings_bomb(HEADER, unpacked_mib=40)
    assert len(bomb) < 1024 * 1024
    started = time.monotonic()
    with pytest.raises(SheetRefused) as refused:
        await _read(bomb, SheetLimits(max_unpacked_bytes=32 * 1024 * 1024))
    assert refused.value.code == "xlsx_unpacks_too_large"
    assert refused.value.status == 413
    assert time.monotonic() - started < 60  # a deadline, not a benchmark: it never loads


async def test_a_worker_over_its_memory_budget_is_stopped_and_the_upload_refused() -> None:
    bomb = shared_strings_bomb(HEADER, unpacked_mib=60)
    with pytest.raises(SheetRefused) as refused:
        await _read(bomb, SheetLimits(memory_bytes=128 * 1024 * 1024))
    assert refused.value.code == "sheet_too_costly"
    assert refused.value.status == 413


async def test_the_event_loop_goes_on_while_a_worker_reads() -> None:
    """Reading happens in another process: the loop keeps ticking meanwhile."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    data = _xlsx([HEADER, *[[str(i), "名", 1] for i in range(20_000)]])
    ticker = asyncio.create_task(tick())
    try:
        rows = await _read(data)
    finally:
        ticker.cancel()
    assert len(rows) == 20_001
    assert ticks > 10


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
async def test_csv_in_every_encoding_colleges_export(encoding: str) -> None:
    data = "学号,姓名\n2024001,张三\n".encode(encoding)
    assert await _read(data) == [(1, ["学号", "姓名"]), (2, ["2024001", "张三"])]


async def test_a_csv_that_stops_decoding_midway_hands_out_the_rows_before() -> None:
    data = "学号,姓名\n".encode() + b"1,a\n" * 100_000 + b"2,\xff\n"
    rows: list[Row] = []

    async def read() -> None:
        async for batch in read_sheet(data):
            rows.extend(batch)

    with pytest.raises(SheetRefused) as refused:
        await read()
    assert refused.value.code == "unknown_encoding"
    # Decoded as read, a chunk at a time: it stops within a chunk of the bad line.
    assert rows[-1][0] == refused.value.last_row
    assert 90_000 < refused.value.last_row <= 100_001


async def test_legacy_excel_and_binaries_are_not_tables() -> None:
    with pytest.raises(SheetRefused) as legacy:
        await _read(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(SheetRefused) as binary:
        await _read(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert (legacy.value.code, legacy.value.status) == ("legacy_excel", 415)
    assert (binary.value.code, binary.value.status) == ("not_a_table", 415)


async def test_shared_strings_are_read_as_excel_writes_them() -> None:
    shared = dimension_bomb(HEADER, far_cell=False)
    assert await _read(shared) == [(1, HEADER)]


async def test_xlsx_values_come_back_as_they_were_typed() -> None:
    from datetime import datetime

    when = datetime(2026, 9, 10, 9, 30)
    rows = await _read(_xlsx([HEADER, [2024001, "张三", 3.0], [None, None, None], ["x", when]]))
    assert rows == [(1, HEADER), (2, [2024001, "张三", 3]), (4, ["x", when])]
