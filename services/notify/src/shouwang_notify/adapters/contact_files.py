"""Rows of an uploaded contacts file, CSV or XLSX, read by the kit's safe spreadsheet reader.

The reader (`shouwang_servicekit.spreadsheets`, as intake's census and casework's roster use
it) parses in a worker process under CPU, memory, row, column and unpacked-size budgets, never
on notify's event loop: a hostile workbook must not stall alerts, and a damaged one (an endless
CSV field, broken sheet XML) is a clear refusal, not a 500. A sheet's `<dimension>` tag is not
trusted; empty rows count against the row cap.
"""

from __future__ import annotations

from shouwang_servicekit.rows import read_table
from shouwang_servicekit.spreadsheets import Cell, SheetLimits

from ..domain.contact_rows import HEADER_SEARCH_ROWS, MAX_ROWS

#: A contacts file is a few columns wide and at most MAX_ROWS people long (under a title line
#: and its header): room for both, and the parser names the row past its own cap.
LIMITS = SheetLimits(
    max_rows=MAX_ROWS + HEADER_SEARCH_ROWS,
    max_columns=256,
    max_unpacked_bytes=64 * 1024 * 1024,
    sniff_delimiter=True,
)


async def table_rows(data: bytes, limits: SheetLimits = LIMITS) -> list[list[Cell]]:
    """Every row of the first sheet (XLSX) or of the CSV, header first, empty rows kept so
    that row numbers stay true; raises `SheetRefused` (with the HTTP status it calls for)."""
    return await read_table(data, limits=limits)
