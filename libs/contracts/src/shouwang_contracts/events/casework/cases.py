"""The case events casework publishes through its outbox (the cases topic)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from ...envelope import Payload
from ...topics import CASES
from ...vocabulary import Role, Severity
from .loop import (
    CaseOutcome,
    CaseState,
    FamilyContactDecision,
    FollowUpFinding,
    FollowUpStatus,
    ReferralStatus,
)


class CaseOpened(Payload):
    """A case was opened for a student (发现)."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.opened"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    severity: Severity = Field(description="Severity the case opened with.")
    owner_ref: str | None = Field(description="Pseudonymous reference of the owner, if assigned.")
    owner_role: Role = Field(description="Role that owns the case.")
    assessment_id: str | None = Field(default=None, description="Assessment that opened it.")
    alert_id: str | None = Field(default=None, description="Alert that opened it.")
    report_ids: list[str] = Field(default_factory=list, description="Reports attached so far.")
    opened_at: AwareDatetime = Field(description="When the case was opened.")


class CaseTransitioned(Payload):
    """A case moved along the loop, or back on a relapse path."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.transitioned"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    from_state: CaseState = Field(description="State before.")
    to_state: CaseState = Field(description="State after.")
    severity: Severity = Field(description="Case severity at the time.")
    actor_ref: str = Field(description="Pseudonymous reference of who moved it.")
    actor_role: Role = Field(description="Role of who moved it.")
    referral_type: str | None = Field(default=None, description="Kind of referral destination.")
    transitioned_at: AwareDatetime = Field(description="When.")


class CaseAssigned(Payload):
    """A case got a (new) owner."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.assigned"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    owner_ref: str = Field(description="Pseudonymous reference of the new owner.")
    owner_role: Role = Field(description="Role of the new owner.")
    previous_owner_ref: str | None = Field(default=None, description="Owner before, if any.")
    assigned_at: AwareDatetime = Field(description="When.")


class CaseOwnerCleared(Payload):
    """A case lost its owner with nobody to take it over (its owner left the staff roster and
    nobody holds the owner role for the student now): it is unowned, waiting in the queue
    for someone to take it up."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.owner_cleared"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    owner_role: Role = Field(description="The rung the case belongs to; nobody holds it now.")
    previous_owner_ref: str = Field(description="Pseudonymous reference of the owner before.")
    reason: str = Field(
        description="Why, as a code: `owner_off_roster` (a staff roster import took them off)."
    )
    cleared_at: AwareDatetime = Field(description="When.")


class CaseSeverityChanged(Payload):
    """A new assessment attached to the active case and raised its severity."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.severity_changed"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    from_severity: Severity = Field(description="Severity before.")
    to_severity: Severity = Field(description="Severity after.")
    assessment_id: str = Field(description="The assessment that changed it.")
    report_ids: list[str] = Field(default_factory=list, description="Reports newly attached.")
    changed_at: AwareDatetime = Field(description="When.")


class CaseReportsAttached(Payload):
    """Reports reached an existing case (without changing it otherwise): their reporters can
    be told the warning is being handled."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.reports_attached"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case the reports now belong to.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    assessment_id: str = Field(description="The assessment that carried the reports.")
    report_ids: list[str] = Field(min_length=1, description="Reports attached.")
    attached_at: AwareDatetime = Field(description="When.")


class CaseClosed(Payload):
    """A case was closed (结案) with an outcome."""

    EVENT_TYPE: ClassVar[str] = "shouwang.case.closed"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    outcome: CaseOutcome = Field(description="How it ended.")
    severity: Severity = Field(description="Highest severity the case reached.")
    opened_at: AwareDatetime = Field(description="When the case opened (for cycle times).")
    closed_at: AwareDatetime = Field(description="When it closed.")


class PlanUpdated(Payload):
    """The student's living plan (策) changed; counts only, never the actions' text."""

    EVENT_TYPE: ClassVar[str] = "shouwang.plan.updated"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case the plan belongs to.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    plan_version: int = Field(ge=1, description="Version of the plan after the change.")
    actions_open: int = Field(ge=0, description="Actions not yet done.")
    actions_done: int = Field(ge=0, description="Actions done.")
    next_review_at: AwareDatetime | None = Field(default=None, description="Next review date.")
    updated_at: AwareDatetime = Field(description="When.")


class AlertAcknowledged(Payload):
    """Someone qualified took ownership of an alert; triage stops escalating it."""

    EVENT_TYPE: ClassVar[str] = "shouwang.alert.acknowledged"
    TOPIC: ClassVar[str] = CASES

    alert_id: str = Field(description="The alert acknowledged.")
    case_id: str | None = Field(default=None, description="Case the alert belongs to.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    acknowledged_by_ref: str = Field(description="Pseudonymous reference of who acknowledged.")
    acknowledged_by_role: Role = Field(description="Their role.")
    acknowledged_at: AwareDatetime = Field(description="When.")


class ReferralUpdated(Payload):
    """A referral was made or moved on (answered, returned, referred again); structured only:
    the destination's name stays in casework."""

    EVENT_TYPE: ClassVar[str] = "shouwang.referral.updated"
    TOPIC: ClassVar[str] = CASES

    referral_id: str = Field(description="Id of the referral.")
    case_id: str = Field(description="Id of the case referred.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    status: ReferralStatus = Field(description="Where the referral stands now.")
    destination_type: str = Field(
        description="Kind of destination: hospital, psychiatric_service, outside_counselor."
    )
    version: int = Field(ge=1, description="1 when made, +1 per move; the highest is current.")
    updated_at: AwareDatetime = Field(description="When it was made or moved.")


class FollowUpUpdated(Payload):
    """A follow-up (回访) was scheduled, moved or closed; what it found, never its notes."""

    EVENT_TYPE: ClassVar[str] = "shouwang.follow_up.updated"
    TOPIC: ClassVar[str] = CASES

    follow_up_id: str = Field(description="Id of the follow-up.")
    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    purpose: str = Field(description="Why: routine, aftercare or referral_return.")
    status: FollowUpStatus = Field(description="Where the follow-up stands now.")
    due_at: AwareDatetime = Field(description="When it is (or was) due.")
    finding: FollowUpFinding | None = Field(
        default=None, description="Completed only: what the follow-up found, if recorded."
    )
    version: int = Field(
        ge=1, description="1 when scheduled, +1 per change; the highest is current."
    )
    updated_at: AwareDatetime = Field(description="When it was scheduled, moved or closed.")


class FamilyContactDecided(Payload):
    """A decision about contacting the student's family was recorded for a case.

    Notify contacts a family only after `given` or `overridden` for that case, and stops
    everything not yet sent on `withdrawn` or `declined`. The reason never travels.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.case.family_contact_decided"
    TOPIC: ClassVar[str] = CASES

    case_id: str = Field(description="Id of the case.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    decision: FamilyContactDecision = Field(description="given, withdrawn, declined or overridden.")
    decided_by_ref: str = Field(description="Pseudonymous reference of who recorded it.")
    decided_by_role: Role = Field(description="Their role.")
    decided_at: AwareDatetime = Field(description="When.")


class BreakGlassOpened(Payload):
    """A staff member outside a student's scope opened the student's file under a
    break-the-glass grant: the counseling center is told at once, reviews it afterwards.

    Who and when only: the written reason stays sealed inside casework.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.break_glass.opened"
    TOPIC: ClassVar[str] = CASES

    grant_id: str = Field(description="Id of the grant (the review queue's id).")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    person_ref: str = Field(description="Pseudonymous reference of who broke the glass.")
    role: Role = Field(description="Their role.")
    granted_at: AwareDatetime = Field(description="When the file was opened.")
    expires_at: AwareDatetime = Field(description="When the grant ends.")


class StudentErased(Payload):
    """The counseling center carried out a student's request to erase their data (PIPL Art.
    47): casework erased the file's free text, and every service that holds something of the
    student erases it on this event (docs/retention.md, "Erasure on request").

    Who and when only: the request's reference and what was erased stay in casework's audit
    log. A service erases only what it held at `erased_at` or before, so a record of a later
    report (a new concern after the request) is never lost to a late delivery of this event.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.student.erased"
    TOPIC: ClassVar[str] = CASES

    student_ref: str = Field(description="Pseudonymous reference of the student.")
    erased_at: AwareDatetime = Field(
        description="When casework erased the file; services erase what they held up to then."
    )
    cases: int = Field(
        default=0, ge=0, description="How many (closed) cases of the student the erasure covered."
    )


class StaffListingChanged(Payload):
    """A person left casework's staff roster, or is on it again (docs/retention.md, "Staff
    who left").

    A snapshot staff import that no longer lists someone says `listed = false`; any import
    that lists a person not on file says `listed = true` (a newcomer, or someone listed again
    after a roster mistake). Services that keep something of staff (notify: their contact
    addresses) end it a grace period after leaving and keep it when the person is listed
    again before. The pseudonym and the time only: never a name, 工号 or address. People who
    were never on the roster (the on-duty line, a leader's office) never appear here.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.staff.listing_changed"
    TOPIC: ClassVar[str] = CASES

    person_ref: str = Field(description="Pseudonymous reference of the staff member.")
    listed: bool = Field(
        description="True: on the staff roster (newly, or again); false: no longer on it."
    )
    changed_at: AwareDatetime = Field(description="When the import that changed it ran.")
