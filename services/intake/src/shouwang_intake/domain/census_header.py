"""Finding a census file's header as survey and academic-affairs systems export it.

The header is usually row 1. Exports also put a title line above it ("2026级新生心理普查"),
or a header of two rows: the row's own columns merged down over both rows and a group label
merged across the item columns, which are named in the row below ("PHQ-9 各题得分" over
第1题 … 第9题). `find_header` looks at the top `SEARCH_ROWS` rows for the first that, on its
own or folded with a second header row under it, names the required columns; the rows it
passed over are title lines, the rows after it data. When none does, the first row's
`HeaderError` says what is missing and where the header must stand.
"""

from __future__ import annotations

from collections.abc import Sequence

from shouwang_servicekit.rows import fold_header

from . import census_cells as cells_of
from .census import Cell, Columns, HeaderError, column_of

SEARCH_ROWS = 5

_WHERE_ZH = "（表头须在文件前 5 行内，列名为 学号、测评时间、第1题…；标题行和合并的两行表头均可）"
_WHERE_EN = (
    " (the header must be within the first 5 rows, naming 学号, 测评时间 and 第1题…; a title"
    " line above it or a header merged over two rows is fine)"
)


def _is_header_row(cells: Sequence[Cell]) -> bool:
    """Whether every non-blank cell of the row names a census column (a second header row)."""
    named = [column_of(cell) for cell in cells if cells_of.text(cell)]
    return bool(named) and all(column is not None for column in named)


def find_header(top: Sequence[tuple[int, list[Cell]]]) -> tuple[Columns, int]:
    """The columns of the header among `top` (the first rows read, as (row number, cells)),
    and how many of those rows it took up (title lines and both header rows)."""
    first: HeaderError | None = None
    for index, (_, cells) in enumerate(top[:SEARCH_ROWS]):
        below = top[index + 1][1] if index + 1 < len(top) else None
        if below is not None and _is_header_row(below):
            try:
                return Columns.from_header(fold_header(cells, below)), index + 2
            except HeaderError:
                pass
        try:
            return Columns.from_header(cells), index + 1
        except HeaderError as refused:
            first = first or refused
    if first is None:
        raise HeaderError("文件为空", "The file is empty")
    raise HeaderError(first.message + _WHERE_ZH, first.message_en + _WHERE_EN)
