"""The annual table as a file: CSV or XLSX, made from the same model the JSON answer is."""

from __future__ import annotations

from shouwang_contracts.vocabulary import Language, in_language

from ..adapters.exports import Cell, Sheet, to_csv, to_xlsx
from .schemas import AnnualOut, AnnualRowOut, CellOut

FORMATS = {
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}
_GROUP = {
    "none": ("范围", "Scope"),
    "college": ("学院", "College"),
    "campus": ("校区", "Campus"),
}
_TITLE = ("{period} 心理危机预警及干预成效", "Crisis warning and intervention outcomes, {period}")
_AS_OF = ("（数据截至 {day}）", " (as of {day})")
_FOUND_TOTAL = ("发现合计", "Found, total")
_RELIEVED = ("缓解人次", "Person-times relieved")


def _value(cell: CellOut) -> Cell:
    return cell.value if cell.value is not None else cell.display


def annual_sheet(out: AnnualOut, lang: Language) -> Sheet:
    """Group, the three grades found, their total, person-times relieved; totals last."""

    def row(r: AnnualRowOut) -> list[Cell]:
        found = [_value(r.found[c.id]) for c in out.columns]
        return [r.label, *found, _value(r.found_total), _value(r.relieved)]

    scope = out.scope.campus_id or ""
    return Sheet(
        title=in_language(_TITLE, lang).format(period=out.period)
        + (in_language(_AS_OF, lang).format(day=out.as_of) if out.as_of else "")
        + (f" · {scope}" if scope else ""),
        header=[
            in_language(_GROUP.get(out.by, _GROUP["none"]), lang),
            *(c.label for c in out.columns),
            in_language(_FOUND_TOTAL, lang),
            in_language(_RELIEVED, lang),
        ],
        rows=[row(r) for r in out.rows] + ([row(out.totals)] if out.by != "none" else []),
        notes=[out.note],
    )


def annual_file(out: AnnualOut, lang: Language, kind: str) -> tuple[bytes, str, str]:
    """(body, media type, file name) of the annual table in `kind` (csv or xlsx)."""
    media_type, render = FORMATS[kind]
    return render(annual_sheet(out, lang)), media_type, f"outcomes-{out.period}.{kind}"
