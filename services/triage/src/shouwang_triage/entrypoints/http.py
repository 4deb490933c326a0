"""HTTP API: a student's current grade and reasons, for staff of tier 4 and up in scope."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from shouwang_contracts.auth import Principal, ScopeKind
from shouwang_contracts.pseudonym import PlacementHasher
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem, preferred_language
from shouwang_servicekit.security import CurrentPrincipal, role_forbidden

from ..adapters.repository import PlacedStudent, TriageStore
from ..container import Triage

logger = logging.getLogger("shouwang.triage.http")

router = APIRouter(prefix="/v1", tags=["grades"])
Container = Annotated[Triage, Depends(app_container)]

# Tier 4 and up, and the college leadership (a grade and its rule-made reasons are
# structured facts). Students of tiers 1-3 never see grades; campus admins manage rosters
# and read no case content; platform admins see only aggregates; auditors read audit logs.
GRADE_READERS = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
)


class ReasonView(BaseModel):
    rule_id: str = Field(description="Policy rule that fired.")
    severity: Severity = Field(description="The level this rule alone asks for.")
    text: str = Field(description="Why, in the caller's language.")


class AlertView(BaseModel):
    alert_id: str
    severity: Severity
    owner_role: Role
    owner_label: str = Field(description="The owning role, in the caller's language.")
    ack_deadline: datetime
    escalation_level: int


class GradeView(BaseModel):
    """A student's current grade."""

    student_ref: str
    severity: Severity
    severity_label: str = Field(description="The severity in the caller's language.")
    reasons: list[ReasonView] = Field(description="Strongest first.")
    policy_version: str
    assessment_id: str
    graded_at: datetime
    open_alert: AlertView | None = Field(
        description="The alert waiting for acknowledgement, if any."
    )


def _covers(principal: Principal, placed: PlacedStudent, hasher: PlacementHasher) -> bool:
    """Whether a grant of the caller's token covers the student: a college by its name, a
    finer grant by its keyed hash (the directory carries no class, building or room)."""
    for grant in principal.scope:
        if grant.kind is ScopeKind.CAMPUS:
            return True
        if grant.kind is ScopeKind.COLLEGE:
            if placed.college == grant.value:
                return True
        elif hasher.placement_ref(principal.campus_id, str(grant)) in placed.placement_refs:
            return True
    return False


@router.get(
    "/students/{student_ref}/grade",
    operation_id="get_student_grade",
    response_model=GradeView,
    summary="The student's current grade and the reasons for it",
)
async def get_student_grade(
    student_ref: str, request: Request, principal: CurrentPrincipal, triage: Container
) -> GradeView:
    """Tier 4+ staff of the student's campus whose scope covers the student's placement.

    Every read and every refused read is appended to `grade_reads` (each in its own
    statement, so a refusal's entry stays)."""
    async with triage.pool.acquire() as conn:
        store = TriageStore(conn)

        async def audit(refused: Problem | None = None) -> None:
            await store.record_grade_read(
                principal.campus_id,
                principal_sub=principal.sub,
                token_id=principal.token_id,
                role=principal.role.value,
                student_ref=student_ref,
                refused=refused.code if refused else None,
            )

        if principal.role not in GRADE_READERS:
            refusal = role_forbidden(principal.role, GRADE_READERS, ("查看研判结果", "read grades"))
            await audit(refusal)
            raise refusal
        placed = await store.placement(principal.campus_id, student_ref)
        if not principal.campus_wide and (
            placed is None or not _covers(principal, placed, triage.placement)
        ):
            refusal = Problem(
                403,
                "scope_forbidden",
                "该学生不在您的负责范围内",
                detail_en="The student is outside your scope",
            )
            await audit(refusal)
            raise refusal
        grade = await store.current_grade(principal.campus_id, student_ref)
        alert = await store.open_alert_row(principal.campus_id, student_ref)
        await audit()
    if grade is None:
        raise Problem(
            404,
            "grade_not_found",
            "该学生暂无研判结果",
            detail_en="There is no grade for this student yet",
        )
    language = preferred_language(request)
    severity = Severity(grade.severity)
    return GradeView(
        student_ref=student_ref,
        severity=severity,
        severity_label=severity.label(language),
        reasons=[
            ReasonView(
                rule_id=r["rule_id"],
                severity=Severity(r["severity"]),
                text=r["text_en"] if language == "en" else r["text_zh"],
            )
            for r in grade.reasons
        ],
        policy_version=grade.policy_version,
        assessment_id=grade.assessment_id,
        graded_at=grade.graded_at,
        open_alert=AlertView(
            alert_id=alert["alert_id"],
            severity=Severity(alert["severity"]),
            owner_role=Role(alert["owner_role"]),
            owner_label=Role(alert["owner_role"]).label(language),
            ack_deadline=alert["ack_deadline"],
            escalation_level=alert["escalation_level"],
        )
        if alert
        else None,
    )
