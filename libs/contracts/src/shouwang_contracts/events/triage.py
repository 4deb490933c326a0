"""Events triage publishes: graded assessments and the alerts that climb the ladder."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import Payload
from ..instruments import Instrument
from ..topics import ALERTS, ASSESSMENTS
from ..vocabulary import Role, Severity


class Reason(BaseModel):
    """Why a grade was given: the policy rule that fired and a sentence a counselor can read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str = Field(description="Id of the policy rule, stable across policy versions.")
    severity: Severity = Field(description="The grade this rule alone asks for.")
    text_zh: str = Field(description="The reason in Chinese (zh-CN).")
    text_en: str = Field(description="The reason in English.")


class AssessmentGraded(Payload):
    """Triage graded a student's situation after a report or screening arrived."""

    EVENT_TYPE: ClassVar[str] = "shouwang.assessment.graded"
    TOPIC: ClassVar[str] = ASSESSMENTS

    assessment_id: str = Field(description="Id of this assessment.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    severity: Severity = Field(description="The grade now.")
    previous_severity: Severity = Field(description="The student's grade before this input.")
    reasons: list[Reason] = Field(description="Every rule that contributed, strongest first.")
    policy_version: str = Field(description="Version of the grading policy applied.")
    trigger: Literal["report", "screening"] = Field(description="What kind of input was graded.")
    report_ids: list[str] = Field(default_factory=list, description="Reports the grade rests on.")
    screening_ids: list[str] = Field(
        default_factory=list, description="Screenings the grade rests on."
    )
    graded_at: AwareDatetime = Field(description="When the grade was given.")
    # Where the graded input came from, for outcome figures (absent on older events).
    reporter_role: Role | None = Field(
        default=None, description="Trigger `report`: the reporter's role, i.e. the source tier."
    )
    instrument: Instrument | None = Field(
        default=None, description="Trigger `screening`: the instrument that was screened."
    )
    census: bool | None = Field(
        default=None,
        description="Trigger `screening`: true when the result came in a census upload (心理普查).",
    )
    input_received_at: AwareDatetime | None = Field(
        default=None,
        description="When intake accepted the graded report or screening: where a cycle starts.",
    )


class AlertRaised(Payload):
    """An owner must act: the alert has an owning role and an acknowledgement deadline."""

    EVENT_TYPE: ClassVar[str] = "shouwang.alert.raised"
    TOPIC: ClassVar[str] = ALERTS

    alert_id: str = Field(description="Id of the alert; acknowledgements name it.")
    assessment_id: str = Field(description="The assessment that raised it.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    severity: Severity = Field(description="Severity of the assessment behind the alert.")
    owner_role: Role = Field(description="The role (tier) that must acknowledge the alert.")
    inform_roles: list[Role] = Field(
        default_factory=list, description="Roles to inform at once besides the owner."
    )
    inform_external: list[str] = Field(
        default_factory=list,
        description="Parties outside the role model to alert at once, e.g. `campus_security`.",
    )
    supersedes_alert_id: str | None = Field(
        default=None,
        description="The student's lower open alert this one replaces (it stops escalating).",
    )
    ack_deadline: AwareDatetime = Field(description="Acknowledge by then, or it escalates.")
    escalation_level: int = Field(default=0, ge=0, description="0 when raised; +1 per escalation.")
    policy_version: str = Field(description="Grading policy version behind the alert.")
    raised_at: AwareDatetime = Field(description="When the alert was raised.")


class AlertEscalated(Payload):
    """Nobody acknowledged in time: the alert moved one tier up with a new deadline."""

    EVENT_TYPE: ClassVar[str] = "shouwang.alert.escalated"
    TOPIC: ClassVar[str] = ALERTS

    alert_id: str = Field(description="The alert that escalated.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    severity: Severity = Field(description="Severity of the alert.")
    from_role: Role = Field(description="Owner that let the deadline pass.")
    owner_role: Role = Field(description="New owner.")
    inform_roles: list[Role] = Field(default_factory=list, description="Roles informed as well.")
    inform_external: list[str] = Field(
        default_factory=list,
        description="Parties outside the role model alerted as well, e.g. `campus_security`.",
    )
    ack_deadline: AwareDatetime = Field(description="New acknowledgement deadline.")
    escalation_level: int = Field(ge=1, description="How many times the alert has escalated.")
    missed_deadline: AwareDatetime = Field(description="The deadline that passed unacknowledged.")
    escalated_at: AwareDatetime = Field(description="When it escalated.")
