"""One student's case folded straight into a projection (no events): how the threat tests
seed the figures a reader then asks for."""

from __future__ import annotations

from datetime import datetime

from shouwang_stats.domain.projection import CaseRow, Projection, StudentRow


def fold_case(
    projection: Projection, campus: str, ref: str, college: str, grade: str, opened: datetime
) -> None:
    """A student `ref` of `college`, whose case opened at `opened` with `grade`, still open."""
    projection.fold(StudentRow(campus, ref, college, True, opened))
    projection.fold(
        CaseRow(
            case_id=f"case-{ref}",
            campus_id=campus,
            student_ref=ref,
            opened_at=opened,
            severity=grade,
            state="monitoring",
            state_at=opened,
        )
    )
