"""Request and response bodies of the staff case API (documented in the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from shouwang_contracts.events.casework import (
    CaseOutcome,
    CaseState,
    FamilyContactDecision,
    FollowUpFinding,
    FollowUpStatus,
    ReferralStatus,
)
from shouwang_contracts.inputs import IsoAwareDatetime
from shouwang_contracts.vocabulary import ReportChannel, Role, Severity

from ..domain.followup import FollowUpPurpose
from ..domain.guards import ConsentDecision
from ..domain.plan import ActionKind, ActionStatus
from ..domain.referral import DestinationType

TEXT_MAX = 20_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReferralIn(_In):
    destination_type: DestinationType = Field(
        description="hospital / psychiatric_service / outside_counselor."
    )
    destination: str = Field(
        min_length=1, max_length=200, description="Where the student is referred."
    )
    consent: ConsentDecision = Field(
        description="The student's consent: given, declined, or overridden."
    )
    override_reason: str | None = Field(
        default=None, max_length=TEXT_MAX, description="Required with `overridden` (tier 5+)."
    )


class TransitionIn(_In):
    to_state: CaseState = Field(description="Target state of the loop.")
    expected_version: StrictInt | None = Field(
        default=None, ge=1, description="Refuse with 409 if the case changed since this version."
    )
    reason: str | None = Field(
        default=None, max_length=TEXT_MAX, description="Why: required for relapse and reopen."
    )
    action_taken: str | None = Field(
        default=None, max_length=TEXT_MAX, description="What was done: required for intervention."
    )
    referral: ReferralIn | None = Field(default=None, description="Required to refer.")
    outcome: CaseOutcome | None = Field(default=None, description="Required to close.")


class AssignmentIn(_In):
    owner_ref: str = Field(
        min_length=1, max_length=64, description="Pseudonymous ref of the new owner."
    )
    owner_role: Role = Field(description="The role they hold for this student.")


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=TEXT_MAX, description="Free text; sealed at rest.")


class PlanActionIn(_In):
    action_id: str = Field(min_length=1, max_length=64, description="Stable id of the action.")
    kind: ActionKind = Field(description="Kind of help.")
    owner_ref: str | None = Field(default=None, max_length=64, description="Who does it.")
    due_at: IsoAwareDatetime | None = Field(default=None, description="By when.")
    status: ActionStatus = Field(default=ActionStatus.OPEN, description="Where it stands.")
    description: str | None = Field(
        default=None, max_length=TEXT_MAX, description="Sealed at rest."
    )


class PlanIn(_In):
    expected_version: StrictInt = Field(
        ge=0, description="The version you revise (0 for the first plan)."
    )
    actions: list[PlanActionIn] = Field(max_length=200, description="The whole list of actions.")
    review_dates: list[IsoAwareDatetime] = Field(default_factory=list, max_length=50)


class FollowUpIn(_In):
    due_at: IsoAwareDatetime = Field(description="When the follow-up is due.")
    purpose: FollowUpPurpose = Field(default=FollowUpPurpose.ROUTINE)
    assignee_ref: str | None = Field(default=None, max_length=64, description="Defaults to you.")


class FollowUpUpdateIn(_In):
    due_at: IsoAwareDatetime | None = Field(default=None, description="Move it to this time.")
    assignee_ref: str | None = Field(default=None, max_length=64)
    close_as: FollowUpStatus | None = Field(
        default=None, description="completed or cancelled: closes it by hand."
    )
    reason: str | None = Field(default=None, max_length=TEXT_MAX, description="Why (to close).")
    finding: FollowUpFinding | None = Field(
        default=None,
        description="With `close_as: completed`: what the follow-up found (relieved counts as"
        " one person-time relieved).",
    )


class ReferralStatusIn(_In):
    status: ReferralStatus = Field(description="The referral's new status.")
    follow_up_due: IsoAwareDatetime | None = Field(
        default=None, description="On `returned`: when the follow-up is due (default a week)."
    )


class FamilyConsentIn(_In):
    decision: FamilyContactDecision = Field(
        description="given, declined, withdrawn (stops messages not yet sent), or overridden "
        "(tier 5+, with a reason)."
    )
    reason: str | None = Field(
        default=None, max_length=TEXT_MAX, description="Required to override."
    )


class CaseSummary(BaseModel):
    case_id: str
    student_ref: str
    state: CaseState
    severity: Severity
    owner_ref: str | None
    owner_role: Role
    opened_at: datetime
    updated_at: datetime
    deadline: datetime | None = Field(
        default=None, description="Nearest alert or follow-up deadline."
    )
    unacknowledged_alerts: int = 0
    missed_follow_ups: int = 0
    version: int


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class CaseCount(BaseModel):
    total: int = Field(description="Cases in my queue with the filters asked (names no one).")


class AwaitingAlert(BaseModel):
    alert_id: str
    case_id: str
    student_ref: str
    severity: Severity
    owner_role: Role = Field(description="The rung that owns the alert now.")
    escalation_level: int = Field(description="How many times it has climbed the ladder.")
    raised_at: datetime = Field(description="When triage raised it: it has waited since.")
    waiting_seconds: int = Field(description="How long it has waited, as of `now`.")
    escalates_at: datetime = Field(
        description="Its acknowledgement deadline: unacknowledged by then, triage escalates "
        "it to the next tier (past the last rung, alerts again)."
    )
    overdue: bool = Field(description="The deadline has passed (escalation is under way).")


class AwaitingPage(BaseModel):
    items: list[AwaitingAlert]
    total: int
    limit: int
    offset: int
    now: datetime = Field(description="The server's clock the waiting times are counted to.")


class AwaitingCount(BaseModel):
    total: int = Field(description="Alerts waiting for my acknowledgement.")
    overdue: int = Field(description="Of those, how many are past their deadline.")


class AlertOut(BaseModel):
    alert_id: str
    severity: Severity
    owner_role: Role
    ack_deadline: datetime
    escalation_level: int
    acknowledged_at: datetime | None
    acknowledged_by_ref: str | None


class ReferralOut(BaseModel):
    referral_id: str
    destination_type: DestinationType
    destination: str | None = Field(
        description="Where to (free text): withheld (null) from readers of structured facts only."
    )
    status: ReferralStatus
    consent: str
    returned_at: datetime | None


class FollowUpOut(BaseModel):
    follow_up_id: str
    purpose: FollowUpPurpose
    due_at: datetime
    assignee_ref: str | None
    status: FollowUpStatus
    closed_by_ref: str | None
    closed_at: datetime | None
    finding: FollowUpFinding | None = Field(default=None, description="What it found, if recorded.")
    missed: bool = Field(description="Past due and still open.")
    reminded_at: datetime | None


class CaseOut(BaseModel):
    case_id: str
    student_ref: str
    state: CaseState
    severity: Severity
    owner_ref: str | None
    owner_role: Role
    outcome: CaseOutcome | None
    report_ids: list[str]
    report_channels: list[ReportChannel] = Field(
        default_factory=list,
        description="How the case's reports were learned of, each way once: `self_referral` "
        "when the student asked for help, `family_call`, `counseling_session`, `observed`. "
        "From the reports the student file holds (one still on its way shows up once filed).",
    )
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    allowed_transitions: list[CaseState] = Field(description="States the loop allows next.")
    alerts: list[AlertOut] = Field(default_factory=list)
    referral: ReferralOut | None = None
    follow_ups: list[FollowUpOut] = Field(default_factory=list)


class HistoryOut(BaseModel):
    seq: int
    kind: str
    from_state: CaseState | None
    to_state: CaseState | None
    actor_ref: str
    actor_role: str
    detail: dict[str, Any]
    text: str | None = Field(description="Free text recorded with the change, opened for you.")
    at: datetime


class NoteOut(BaseModel):
    note_id: str
    version: int
    author_ref: str
    author_role: str
    text: str
    created_at: datetime


class PlanActionOut(BaseModel):
    action_id: str
    kind: ActionKind
    owner_ref: str | None
    due_at: datetime | None
    status: ActionStatus
    description: str | None


class PlanOut(BaseModel):
    case_id: str
    version: int
    actions: list[PlanActionOut]
    review_dates: list[datetime]
    actions_open: int
    actions_done: int
    actions_overdue: int = Field(description="Open or in-progress actions past their due date.")
    next_review_at: datetime | None = Field(description="The first review date still ahead.")
    reviews_due: list[datetime] = Field(
        description="Review dates passed with no revision of the plan since: a review is held"
        " by revising the plan (PUT, the same actions with their statuses up to date count)."
    )
    updated_at: datetime | None = Field(description="When this version was stored.")


class ConsentOut(BaseModel):
    consent_id: str


def _problem(description: str) -> dict[str, Any]:
    # The body (problem+json, `ProblemDetails`) is documented for every error by `service_app`.
    return {"description": description}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("No or invalid bearer token."),
    403: _problem("Role, tier or scope does not allow this (students never see cases)."),
    404: _problem("No such case, alert, note or follow-up in your campus."),
    409: _problem("The loop has no such step, or the case changed meanwhile."),
    422: _problem("Something the step needs is missing or invalid (see `errors`)."),
    503: _problem("The database is unavailable; retry after `Retry-After` seconds."),
}
