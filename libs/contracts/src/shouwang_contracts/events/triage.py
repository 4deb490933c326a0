"""Events triage publishes: graded assessments and the alerts that climb the ladder."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..envelope import Payload
from ..instruments import Instrument
from ..topics import ALERTS, ASSESSMENTS
from ..vocabulary import FollowUp, ReportChannel, Role, Severity


class Reason(BaseModel):
    """Why a grade was given: the policy rule that fired and a sentence a counselor can read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str = Field(description="Id of the policy rule, stable across policy versions.")
    severity: Severity = Field(description="The grade this rule alone asks for.")
    text_zh: str = Field(description="The reason in Chinese (zh-CN).")
    text_en: str = Field(description="The reason in English.")
    held_by_screening_id: str | None = Field(
        default=None,
        description="The earlier screening sheet this reason rests on, when a later sheet of "
        "the same instrument says less: a suicide-item answer holds for the instrument's own "
        "look-back window. None when the reason rests on the latest input.",
    )


class FollowUpTask(BaseModel):
    """Something an alert asks of a role besides acknowledging it, e.g. a C-SSRS screen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: FollowUp = Field(description="Stable id of what is asked; templates render its label.")
    assigned_role: Role = Field(description="The role (tier) asked to do it.")
    due_at: AwareDatetime = Field(description="Done by then.")


class _AlertFacts(Payload):
    """Fields every alert event carries for notify: who else hears it and what is asked."""

    realert_attempt: int = Field(
        default=0,
        ge=0,
        description="0 while the alert climbs the ladder; n for the n-th re-alert after the "
        "top rung (severe and critical alerts re-alert until acknowledged).",
    )
    notify_on_duty: bool = Field(
        default=False,
        description="Also reach the campus's on-duty contact (值班) with this (re-)alert.",
    )
    follow_up_tasks: list[FollowUpTask] = Field(
        default_factory=list,
        description="What the alert asks besides acknowledging it, each with a due time.",
    )
    incomplete_sheet: bool = Field(
        default=False,
        description="The grade rests on a screening sheet with unanswered or unreadable cells "
        "(graded on what it does say; no total computed from it).",
    )


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
    incomplete_sheet: bool = Field(
        default=False,
        description="The grade rests on a screening sheet with unanswered or unreadable cells.",
    )
    # Where the graded input came from, for outcome figures (absent on older events).
    reporter_role: Role | None = Field(
        default=None, description="Trigger `report`: the reporter's role, i.e. the source tier."
    )
    report_channel: ReportChannel | None = Field(
        default=None,
        description="Trigger `report`: how the reporter learned of it (`self_referral`: the "
        "student asked for help); see `vocabulary.ReportChannel`.",
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


class AlertRaised(_AlertFacts):
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
        description="Parties outside the role model to alert at once: `campus_security`, "
        "`emergency_services` (110/120); see `vocabulary.ExternalParty`.",
    )
    supersedes_alert_id: str | None = Field(
        default=None,
        description="The student's lower open alert this one replaces (it stops escalating).",
    )
    ack_deadline: AwareDatetime = Field(description="Acknowledge by then, or it escalates.")
    escalation_level: int = Field(default=0, ge=0, description="0 when raised; +1 per escalation.")
    policy_version: str = Field(description="Grading policy version behind the alert.")
    raised_at: AwareDatetime = Field(description="When the alert was raised.")


class AlertEscalated(_AlertFacts):
    """Nobody acknowledged in time: the alert moved one tier up with a new deadline, or, past
    the top rung, re-alerted its owner and the on-duty contact (`realert_attempt` > 0)."""

    EVENT_TYPE: ClassVar[str] = "shouwang.alert.escalated"
    TOPIC: ClassVar[str] = ALERTS

    alert_id: str = Field(description="The alert that escalated.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    severity: Severity = Field(description="Severity of the alert.")
    from_role: Role = Field(description="Owner that let the deadline pass.")
    owner_role: Role = Field(description="New owner (the same one when re-alerting).")
    inform_roles: list[Role] = Field(default_factory=list, description="Roles informed as well.")
    inform_external: list[str] = Field(
        default_factory=list,
        description="Parties outside the role model alerted as well, e.g. `campus_security`.",
    )
    ack_deadline: AwareDatetime = Field(description="New acknowledgement deadline.")
    escalation_level: int = Field(ge=1, description="How many times the alert has escalated.")
    missed_deadline: AwareDatetime = Field(description="The deadline that passed unacknowledged.")
    escalated_at: AwareDatetime = Field(description="When it escalated.")
