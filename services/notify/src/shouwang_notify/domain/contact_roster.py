"""Contacts rows the campus's roster does not know of: warnings, not errors.

A family row whose 学号 is not on the student roster, or a staff row whose 工号 holds no role
for any student, is imported all the same and listed by row number (never the number itself):
the roster may be imported after the contacts (casework's directory reaches notify later
still), and such a contact is only ever used once the roster names the person, so refusing
the file would force an order on the college and hold back every other row. A mistyped number
is what the warning is for: the row tells the operator where to look.
"""

from __future__ import annotations

from collections.abc import Iterable

from shouwang_servicekit.rows import RowError

STUDENT_NOT_ON_ROSTER = RowError(
    0,
    "student_no",
    "student_not_on_roster",
    "学号不在本校学生名册上：请核对学号；若学生名册尚未导入，导入后即可，无需重新导入本文件",
    "student number is not on the campus's student roster: check it; if the roster is not "
    "imported yet, nothing more is needed once it is",
)
STAFF_WITHOUT_ROLE = RowError(
    0,
    "number",
    "staff_without_role",
    "该工号在教职工名册上不负责任何学生：请核对工号；若名册尚未导入，或此人本就不负责学生，可忽略",
    "this staff number holds no role for any student on the staff roster: check it; if the "
    "roster is not imported yet, or the person is responsible for no student, nothing to do",
)


def rows_off_roster(kind: str, rows: Iterable[tuple[int, str]], known: set[str]) -> list[RowError]:
    """A warning for each (row, reference) whose reference is not in `known`, in row order."""
    template = STUDENT_NOT_ON_ROSTER if kind == "family" else STAFF_WITHOUT_ROLE
    return [
        RowError(row, template.field, template.code, template.message, template.message_en)
        for row, ref in sorted(rows)
        if ref not in known
    ]


def imported_message(imported: int, language: str, *, dry_run: bool) -> str:
    """How many contacts the import wrote, or (a dry run) would write."""
    if language == "en":
        if dry_run:
            return f"Dry run, nothing was changed: {imported} contacts would be imported."
        return f"{imported} contacts imported."
    if dry_run:
        return f"试导入，未做任何更改：正式导入将导入 {imported} 条联系人。"
    return f"已导入 {imported} 条联系人。"


def warnings_message(
    kind: str,
    warnings: list[RowError],
    imported: int,
    language: str,
    shown: int = 10,
    *,
    dry_run: bool = False,
    unnamed_days: int | None = None,
) -> str:
    """The answer's summary of the warnings, in the caller's language: row numbers only; for a
    family file, that contacts of a student the roster never names end `unnamed_days` after
    their import."""
    head = imported_message(imported, language, dry_run=dry_run)
    tail = _unnamed_end(kind, unnamed_days, language)
    rows = [str(w.row) for w in warnings[:shown]]
    more = len(warnings) > shown
    if language == "en":
        listed = ", ".join(rows) + (f" and {len(warnings) - shown} more" if more else "")
        what = (
            "student number is not on the student roster"
            if kind == "family"
            else "staff number holds no role on the staff roster"
        )
        return (
            f"{head} {'Row' if len(warnings) == 1 else 'Rows'} {listed}: the {what}; check them (if the "
            f"roster is not imported yet, nothing more is needed once it is){tail}"
        )
    listed = "、".join(rows) + (f" 等 {len(warnings)} 行" if more else " 行")
    what = "学号不在本校学生名册上" if kind == "family" else "工号在教职工名册上不负责任何学生"
    return f"{head}第 {listed}的{what}，请核对（若名册尚未导入，导入后即可）{tail}"


def _unnamed_end(kind: str, days: int | None, language: str) -> str:
    if kind != "family" or days is None:
        return ""
    if language == "en":
        return (
            f". Contacts of a student the roster still does not name {days} days after this "
            "import are deleted then (a mistyped student number is not kept)"
        )
    return f"。导入 {days} 天后学生名册仍无此学号的，其家属联系方式将被删除（误填的学号不予保留）"
