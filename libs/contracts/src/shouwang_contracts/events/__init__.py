"""Every event type Shouwang publishes, registered once for schema export and decoding."""

from __future__ import annotations

from ..envelope import Payload
from .casework import (
    AlertAcknowledged,
    BreakGlassOpened,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseOutcome,
    CaseReportsAttached,
    CaseSeverityChanged,
    CaseState,
    CaseTransitioned,
    DirectoryEntry,
    FamilyContactDecided,
    FamilyContactDecision,
    FollowUpFinding,
    FollowUpStatus,
    FollowUpUpdated,
    PlanUpdated,
    ReferralStatus,
    ReferralUpdated,
    ResponsibleStaff,
    StudentErased,
    StudentRouting,
)
from .intake import ReportSubmitted, ScreeningSubmitted
from .notify import (
    NotificationAcknowledged,
    NotificationChannel,
    NotificationDelivered,
    NotificationFailed,
    RecipientKind,
)
from .triage import AlertEscalated, AlertRaised, AssessmentGraded, Reason

EVENT_TYPES: dict[str, type[Payload]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        ReportSubmitted,
        ScreeningSubmitted,
        AssessmentGraded,
        AlertRaised,
        AlertEscalated,
        CaseOpened,
        CaseTransitioned,
        CaseAssigned,
        CaseSeverityChanged,
        CaseReportsAttached,
        CaseClosed,
        PlanUpdated,
        AlertAcknowledged,
        DirectoryEntry,
        ReferralUpdated,
        FollowUpUpdated,
        FamilyContactDecided,
        NotificationDelivered,
        NotificationFailed,
        NotificationAcknowledged,
        BreakGlassOpened,
        StudentRouting,
        StudentErased,
    )
}

__all__ = [
    "EVENT_TYPES",
    "AlertAcknowledged",
    "AlertEscalated",
    "AlertRaised",
    "AssessmentGraded",
    "BreakGlassOpened",
    "CaseAssigned",
    "CaseClosed",
    "CaseOpened",
    "CaseOutcome",
    "CaseReportsAttached",
    "CaseSeverityChanged",
    "CaseState",
    "CaseTransitioned",
    "DirectoryEntry",
    "FamilyContactDecided",
    "FamilyContactDecision",
    "FollowUpFinding",
    "FollowUpStatus",
    "FollowUpUpdated",
    "NotificationAcknowledged",
    "NotificationChannel",
    "NotificationDelivered",
    "NotificationFailed",
    "PlanUpdated",
    "Reason",
    "RecipientKind",
    "ReferralStatus",
    "ReferralUpdated",
    "ReportSubmitted",
    "ResponsibleStaff",
    "ScreeningSubmitted",
    "StudentErased",
    "StudentRouting",
]
