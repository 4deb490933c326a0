"""Census files shaped like the shared sample export, as CSV or XLSX, with bad rows on purpose."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
HEADER = (SAMPLES / "census_phq9.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
WHEN = datetime(2026, 9, 10, 9, 30)


def census_rows(rows: int, bad_rows: dict[int, str], seed: int = 7) -> list[list[object]]:
    """`rows` PHQ-9 rows after the header (spreadsheet rows 2…rows+1), with bad ones by number.

    Bad kinds: `out_of_range` (an item of 7), `missing` (no student number), `item_count` (five
    items), `invalid` (a time no parser reads).
    """
    rng = random.Random(seed)
    result: list[list[object]] = []
    for row in range(2, rows + 2):
        number = f"2025{row:06d}"
        items: list[object] = [rng.randint(0, 3) for _ in range(9)]
        when: object = WHEN
        code = bad_rows.get(row)
        if code == "out_of_range":
            items[3] = 7
        elif code == "missing":
            number = ""
        elif code == "item_count":
            items = items[:5]
        elif code == "invalid":
            when = "九月十日"
        result.append([number, f"学生{row}", when, "PHQ-9", *items])
    return result


def census_csv(rows: int, bad_rows: dict[int, str]) -> bytes:
    """The rows as the sample's UTF-8 CSV."""
    lines = [",".join(HEADER)]
    for cells in census_rows(rows, bad_rows):
        lines.append(
            ",".join(
                c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else str(c) for c in cells
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def census_xlsx(rows: int, bad_rows: dict[int, str]) -> bytes:
    """The rows as an XLSX workbook with real datetimes and numbers, as exports write them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for cells in census_rows(rows, bad_rows):
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_sheet_cut_short(xlsx: bytes) -> bytes:
    """The same archive, intact as a zip, but its sheet's XML ends halfway through.

    `load_workbook` opens it (read-only mode parses a sheet only as its rows are read), so
    reading fails after the first half of the rows were handed out.
    """
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            target.writestr(info, content)
    return out.getvalue()
