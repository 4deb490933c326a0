"""The student's living plan (策): actions with owner, due date and status, and review dates.

Every change makes a new version; the public event carries counts only, never the text.
A review is held by revising the plan on or after its date (the same actions with their
statuses brought up to date count): a review date passed with no version since is due
(`reviews_due`), and so shown on every read of the plan until someone revises it; an open or
in-progress action past its due date is overdue (`actions_overdue`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .guards import MissingRecord


class ActionKind(StrEnum):
    """What kind of help an action is."""

    TALK = "talk"  # 谈心谈话
    COUNSELING = "counseling"  # 心理咨询
    FAMILY_CONTACT = "family_contact"  # 家校沟通
    ACADEMIC_SUPPORT = "academic_support"  # 学业帮扶
    PEER_SUPPORT = "peer_support"  # 朋辈陪伴
    MEDICAL = "medical"  # 就医
    SAFETY = "safety"  # 安全监护
    OTHER = "other"


class ActionStatus(StrEnum):
    """Where an action stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class PlanAction:
    """One action of the plan; `description` is free text, sealed at rest."""

    action_id: str
    kind: ActionKind
    owner_ref: str | None
    due_at: datetime | None
    status: ActionStatus
    description: str | None = None


@dataclass
class Plan:
    """A version of a case's plan."""

    case_id: str
    version: int = 0
    actions: list[PlanAction] = field(default_factory=list)
    review_dates: list[datetime] = field(default_factory=list)
    #: When this version was stored (None: no version yet).
    updated_at: datetime | None = None

    def revise(
        self, actions: list[PlanAction], review_dates: list[datetime], *, at: datetime | None = None
    ) -> Plan:
        """The next version of the plan with these actions and review dates, stored `at`."""
        ids = [a.action_id for a in actions]
        if len(set(ids)) != len(ids):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            raise MissingRecord(
                "duplicate_action",
                "action ids must be unique",
                field="actions",
                field_message=f"action_id repeated: {', '.join(repeated)}",
                field_message_zh=f"措施编号重复：{'、'.join(repeated)}",
            )
        return Plan(
            case_id=self.case_id,
            version=self.version + 1,
            actions=list(actions),
            review_dates=sorted(review_dates),
            updated_at=at,
        )

    @property
    def actions_done(self) -> int:
        return sum(1 for a in self.actions if a.status is ActionStatus.DONE)

    @property
    def actions_open(self) -> int:
        return sum(
            1 for a in self.actions if a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
        )

    def next_review(self, now: datetime) -> datetime | None:
        """The first review date still ahead, if any."""
        return next((d for d in self.review_dates if d >= now), None)

    def reviews_due(self, now: datetime) -> list[datetime]:
        """The review dates reached by `now` that no version of the plan followed."""
        return [
            d
            for d in self.review_dates
            if d <= now and (self.updated_at is None or self.updated_at < d)
        ]

    def actions_overdue(self, now: datetime) -> int:
        """Open or in-progress actions whose due date has passed."""
        return sum(
            1
            for a in self.actions
            if a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
            and a.due_at is not None
            and a.due_at < now
        )
