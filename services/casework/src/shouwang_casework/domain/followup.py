"""Follow-ups (回访): staff set them, move them, and close them by hand.

A follow-up that passes its due time unclosed is missed; it raises exactly one reminder
(a flag, a metric and a history entry), never a stream of new tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from shouwang_contracts.events.casework import FollowUpFinding, FollowUpStatus

from .guards import FINDING_NEEDS_COMPLETION, MISSING, Actor, InvalidTransition, MissingRecord

if TYPE_CHECKING:
    from .cases import Case


class FollowUpPurpose(StrEnum):
    """Why a follow-up was scheduled."""

    ROUTINE = "routine"
    AFTERCARE = "aftercare"  # 善后 after a referral's return
    REFERRAL_RETURN = "referral_return"


@dataclass
class FollowUp:
    """One follow-up of a case."""

    follow_up_id: str
    case_id: str
    purpose: FollowUpPurpose
    due_at: datetime
    assignee_ref: str | None
    status: FollowUpStatus
    created_by_ref: str
    created_at: datetime
    closed_by_ref: str | None = None
    closed_at: datetime | None = None
    reminded_at: datetime | None = None
    version: int = 1
    finding: FollowUpFinding | None = None

    @classmethod
    def schedule(
        cls,
        case: Case,
        by: Actor,
        *,
        follow_up_id: str,
        purpose: FollowUpPurpose,
        due_at: datetime,
        assignee_ref: str | None,
        at: datetime,
    ) -> FollowUp:
        """A new follow-up of `case`, scheduled by `by` and recorded in the case's history."""
        follow_up = cls(
            follow_up_id=follow_up_id,
            case_id=case.case_id,
            purpose=purpose,
            due_at=due_at,
            assignee_ref=assignee_ref,
            status=FollowUpStatus.SCHEDULED,
            created_by_ref=by.ref,
            created_at=at,
        )
        case.record(
            "follow_up_scheduled",
            by,
            at,
            detail={"follow_up_id": follow_up_id, "purpose": purpose.value},
            text=None,
        )
        return follow_up

    def _require_scheduled(self) -> None:
        if self.status is not FollowUpStatus.SCHEDULED:
            raise InvalidTransition(
                "follow_up_closed", f"the follow-up is already {self.status.value}"
            )

    def move(self, due_at: datetime, assignee_ref: str | None) -> None:
        """Set a new due time (and assignee); a moved follow-up may remind again."""
        self._require_scheduled()
        self.due_at = due_at
        self.assignee_ref = assignee_ref
        self.reminded_at = None
        self.version += 1

    def hand_to(self, assignee_ref: str | None) -> None:
        """Give a scheduled follow-up to someone else (nobody: whoever takes the case up), due
        when it was; one already flagged as missed is not flagged again."""
        self._require_scheduled()
        self.assignee_ref = assignee_ref
        self.version += 1

    def close(
        self,
        status: FollowUpStatus,
        by_ref: str,
        at: datetime,
        reason: str | None,
        finding: FollowUpFinding | None = None,
    ) -> None:
        """Close by hand: completed (it took place) or cancelled; who, when and why are kept.

        A completed follow-up may record what it found (relieved, stable, worsened): each
        `relieved` is one person-time relieved in the outcome figures.
        """
        self._require_scheduled()
        if status is FollowUpStatus.SCHEDULED:
            raise InvalidTransition("follow_up_still_scheduled", "close as completed or cancelled")
        if not (reason or "").strip():
            raise MissingRecord(
                "reason_required",
                "closing a follow-up needs why",
                field="reason",
                field_message=MISSING,
            )
        if finding is not None and status is not FollowUpStatus.COMPLETED:
            raise MissingRecord(
                "finding_needs_completion",
                "only a completed follow-up records a finding",
                field="finding",
                field_message=FINDING_NEEDS_COMPLETION,
            )
        self.status = status
        self.closed_by_ref = by_ref
        self.closed_at = at
        self.finding = finding
        self.version += 1

    def is_missed(self, now: datetime) -> bool:
        """Past due and still open."""
        return self.status is FollowUpStatus.SCHEDULED and now > self.due_at

    def needs_reminder(self, now: datetime) -> bool:
        """Missed and not yet reminded: the one reminder is due."""
        return self.is_missed(now) and self.reminded_at is None
