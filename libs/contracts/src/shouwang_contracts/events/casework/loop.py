"""The closed loop's words in casework's events: states, outcomes, and where a referral, a
follow-up or a family-contact decision stands (services use them as vocabulary too)."""

from __future__ import annotations

from enum import StrEnum

from ...vocabulary import DEFAULT_LANGUAGE, Language, in_language


class CaseState(StrEnum):
    """The closed loop: 发现 → 监控 → 干预 → 转介 → 善后 → 回访 → 结案."""

    OPEN = "open"
    MONITORING = "monitoring"
    INTERVENTION = "intervention"
    REFERRED = "referred"
    AFTERCARE = "aftercare"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_CASE_STATE_LABELS[self], language)


_CASE_STATE_LABELS: dict[CaseState, tuple[str, str]] = {
    CaseState.OPEN: ("发现", "Open"),
    CaseState.MONITORING: ("监控", "Monitoring"),
    CaseState.INTERVENTION: ("干预", "Intervention"),
    CaseState.REFERRED: ("转介", "Referred"),
    CaseState.AFTERCARE: ("善后", "Aftercare"),
    CaseState.FOLLOW_UP: ("回访", "Follow-up"),
    CaseState.CLOSED: ("结案", "Closed"),
}


class CaseOutcome(StrEnum):
    """How a case ended."""

    RELIEVED = "relieved"  # 缓解
    STABLE = "stable"  # 稳定
    TRANSFERRED = "transferred"  # 转出（转学、转介长期治疗）
    LEFT_SCHOOL = "left_school"  # 离校（休学、退学、毕业）


class ReferralStatus(StrEnum):
    """Where a referral (转介) stands: answered when accepted or not accepted."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    RETURNED = "returned"
    REFERRED_AGAIN = "referred_again"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_REFERRAL_STATUS_LABELS[self], language)


_REFERRAL_STATUS_LABELS: dict[ReferralStatus, tuple[str, str]] = {
    ReferralStatus.PENDING: ("待接收", "Pending"),
    ReferralStatus.ACCEPTED: ("已接收", "Accepted"),
    ReferralStatus.NOT_ACCEPTED: ("未接收", "Not accepted"),
    ReferralStatus.RETURNED: ("已返校", "Returned"),
    ReferralStatus.REFERRED_AGAIN: ("再次转介", "Referred again"),
}


class FollowUpStatus(StrEnum):
    """Where a follow-up (回访) stands."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class FollowUpFinding(StrEnum):
    """What a completed follow-up found; each `relieved` is one person-time relieved (缓解人次)."""

    RELIEVED = "relieved"  # 缓解
    STABLE = "stable"  # 稳定，仍需关注
    WORSENED = "worsened"  # 加重


class FamilyContactDecision(StrEnum):
    """What was decided about contacting a student's family for a case."""

    GIVEN = "given"  # the student consented
    WITHDRAWN = "withdrawn"  # a consent given earlier was withdrawn
    DECLINED = "declined"  # the student did not consent
    OVERRIDDEN = "overridden"  # an authorised role decided to contact the family anyway
