"""What Excel does to a column of numbers (学号, 工号, 手机号) before an import reads it,
undone or named by row, the same way for every import:

- `2024020001.0`, a float written out (a CSV saved from a numeric column), is read as
  `2024020001`; `2.02402E+09`, scientific notation, is refused: the digits are gone
  (`excel_number`);
- `241001` for `0241001`, leading zeros lost, is refused when the file's own numbers show
  that they begin with 0 (`refuse_lost_leading_zeros`).

Each refusal is a `rows.RowError` saying, in zh-CN and English, to export the column as
text. Standard library only, so a service's domain layer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from .rows import Parsed, RowError

T = TypeVar("T")

_WHOLE_FLOAT = re.compile(r"^(\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?[eE][+]?\d+$")
_AS_TEXT_ZH = (
    "请在导出系统或 Excel 中把该列设为“文本”格式后重新导出（不要用 Excel 打开后另存为 CSV）"
)
_AS_TEXT_EN = (
    "set the column's format to Text in the exporting system or Excel and export again "
    "(do not open the CSV in Excel and save it again)"
)


def excel_number(
    row: int, field: str, label: str, text: str, *, quote: bool = True
) -> str | RowError:
    """A number column's cell (学号, 工号, 手机号) as Excel may have left it: `text` without a
    float's `.0` (`2024020001.0`: a CSV saved from a numeric column), or the row's error when
    Excel wrote it in scientific notation (`2.02402E+09`: the digits are gone). `label`
    names the column in zh-CN; `quote=False` keeps the cell's text out of the message (an
    import whose refusals must not carry personal data)."""
    if whole := _WHOLE_FLOAT.match(text):
        return whole.group(1)
    if not _SCIENTIFIC.match(text):
        return text
    zh, en = (f"：{text}", f": {text}") if quote else ("", "")
    return RowError(
        row,
        field,
        "scientific_notation",
        f"{label}被 Excel 写成了科学计数法{zh}，原号码已无法还原；{_AS_TEXT_ZH}",
        f"{field} was written by Excel in scientific notation{en}, and the number cannot be "
        f"recovered; {_AS_TEXT_EN}",
    )


def refuse_lost_leading_zeros(
    parsed: Parsed[T],
    numbers: Sequence[tuple[int, str]],
    field: str,
    label: str,
    *,
    key: Callable[[T], str | None],
    quote: bool = True,
) -> Parsed[T]:
    """`parsed` with the rows whose number lost its leading zeros refused. `numbers` are the
    rows' (row, number) as read; a file that has `0241001` shows the college's numbers keep
    their zeros, so an all-digit `241001`, shorter than those, is most likely one Excel read
    as a number. Its records (`key`: their number) are dropped, the errors kept in row order;
    `quote=False` keeps the numbers out of the messages."""
    zero_led = [(row, n) for row, n in numbers if n.isdigit() and n.startswith("0")]
    if not zero_led:
        return parsed
    (example_row, example), width = zero_led[0], max(len(n) for _, n in zero_led)

    def refusal(row: int, n: str) -> RowError:
        zh_n, en_n, zh_eg, en_eg = (
            (
                f" {n} ",
                f" {n}",
                f"如第 {example_row} 行的 {example}，",
                f"such as {example} on row {example_row}, ",
            )
            if quote
            else ("", "", "", "")
        )
        return RowError(
            row,
            field,
            "leading_zeros_lost",
            f"{label}{zh_n}比本文件中以 0 开头的{label}（{zh_eg}{width} 位）短，"
            f"可能是 Excel 去掉了开头的 0；{_AS_TEXT_ZH}",
            f"{field}{en_n} is shorter than this file's numbers that begin with 0 ({en_eg}"
            f"{width} digits): Excel probably dropped its leading zeros; {_AS_TEXT_EN}",
        )

    lost = [
        refusal(row, n)
        for row, n in numbers
        if n.isdigit() and not n.startswith("0") and len(n) < width
    ]
    if lost:
        refused = {n for row, n in numbers if row in {e.row for e in lost}}
        parsed.records = [record for record in parsed.records if key(record) not in refused]
        parsed.errors = sorted([*parsed.errors, *lost], key=lambda error: error.row)
    return parsed


__all__ = ["excel_number", "refuse_lost_leading_zeros"]
