"""What Excel and academic-affairs exports do to a roster before it reaches us, undone or named.

The kit's reader (`shouwang_servicekit.rows`) matches headers loosely and skips blank rows;
three habits of real exports still got past it:

- header texts with a note in brackets or a required-field star (`学号（必填）`, `*姓名`,
  `楼层(层)`): an optional column so named was silently left behind;
- a header of two rows, a group label merged over its columns (`住宿信息` over 楼栋 / 楼层 /
  寝室): the first row was taken as the header, the second read as a data row;
- 学号 that Excel turned into numbers: `2024020001.0` (a float written out), `2.02402E+09`
  (scientific notation: the digits are gone) and `241001` for `0241001` (leading zeros lost).

`tidy_header` rewrites the top rows before the kit looks for the header (row numbers stay
true: a merged second header row becomes an empty row). `excel_number` undoes the `.0` and
names scientific notation; `lost_leading_zeros` names the rows whose number is shorter than
the file's own zero-led numbers. Each refusal says what to do in zh-CN and English.
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shouwang_servicekit.rows import RowError, clean, header_key

_NOTE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
_STAR = re.compile(r"^[*＊]+|[*＊]+$")
_WHOLE_FLOAT = re.compile(r"^(\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?[eE][+]?\d+$")

_AS_TEXT_ZH = (
    "请在导出系统或 Excel 中把该列设为“文本”格式后重新导出（不要用 Excel 打开后另存为 CSV）"
)
_AS_TEXT_EN = (
    "set the column's format to Text in the exporting system or Excel and export again "
    "(do not open the CSV in Excel and save it again)"
)


def _known(headers: Mapping[str, tuple[str, ...]]) -> set[str]:
    return {header_key(alias) for aliases in headers.values() for alias in aliases}


def _bare(cell: object, known: set[str]) -> object:
    """A header cell without its bracketed note or star, when that names a known column."""
    text = clean(cell)
    if text is None or header_key(text) in known:
        return cell
    bare = _STAR.sub("", _NOTE.sub("", text)).strip()
    return bare if bare and header_key(bare) in known else cell


def tidy_header(
    table: Iterable[Sequence[object]],
    headers: Mapping[str, tuple[str, ...]],
    *,
    search_rows: int,
) -> list[list[object]]:
    """The table with its top `search_rows` rows' header texts made plain and a two-row
    header (a row of group labels, then the column names under them) folded into one."""
    known = _known(headers)
    rows = [list(row) for row in table]
    top = min(search_rows, len(rows))
    for index in range(top):
        rows[index] = [_bare(cell, known) for cell in rows[index]]
    for index in range(top - 1):
        upper, lower = rows[index], rows[index + 1]
        named = [header_key(cell) in known for cell in lower if clean(cell)]
        if not named or not all(named) or not any(header_key(c) in known for c in upper):
            continue
        width = max(len(upper), len(lower))
        rows[index] = [
            lower[i]
            if i < len(lower) and clean(lower[i])
            else (upper[i] if i < len(upper) else None)
            for i in range(width)
        ]
        rows[index + 1] = []
        break
    return rows


@dataclass(frozen=True, slots=True)
class Number:
    """A 学号/工号 cell as Excel may have left it: the number, or why it cannot be used."""

    text: str | None
    error: RowError | None = None


def excel_number(row: int, field: str, label: str, text: str) -> Number:
    """`text` without a float's `.0`; refused when Excel wrote it in scientific notation."""
    if whole := _WHOLE_FLOAT.match(text):
        return Number(whole.group(1))
    if _SCIENTIFIC.match(text):
        return Number(
            None,
            RowError(
                row,
                field,
                "scientific_notation",
                f"{label}被 Excel 写成了科学计数法：{text}，原号码已无法还原；{_AS_TEXT_ZH}",
                f"{field} was written by Excel in scientific notation: {text}, and the number "
                f"cannot be recovered; {_AS_TEXT_EN}",
            ),
        )
    return Number(text)


def lost_leading_zeros(
    numbers: Sequence[tuple[int, str]], field: str, label: str
) -> list[RowError]:
    """The rows whose all-digit number is shorter than the file's numbers that begin with 0:
    a file that has `0241001` shows the college's numbers keep their zeros, so `241001` is
    most likely one Excel read as a number."""
    zero_led = [(row, n) for row, n in numbers if n.isdigit() and n.startswith("0")]
    if not zero_led:
        return []
    example_row, example = zero_led[0]
    width = max(len(n) for _, n in zero_led)
    return [
        RowError(
            row,
            field,
            "leading_zeros_lost",
            f"{label} {n} 比本文件中以 0 开头的{label}（如第 {example_row} 行的 {example}，"
            f"{width} 位）短，可能是 Excel 去掉了开头的 0；{_AS_TEXT_ZH}",
            f"{field} {n} is shorter than this file's numbers that begin with 0 (such as "
            f"{example} on row {example_row}, {width} digits): Excel probably dropped its "
            f"leading zeros; {_AS_TEXT_EN}",
        )
        for row, n in numbers
        if n.isdigit() and not n.startswith("0") and len(n) < width
    ]
