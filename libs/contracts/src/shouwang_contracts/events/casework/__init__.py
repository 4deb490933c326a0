"""Public events casework publishes through its outbox, and the directory stream.

Pseudonymous references and structured fields only: no names, student numbers, free-text
notes or contact details ever appear here. Other campus systems subscribe to these.

`cases` holds the case events, `directory` the directory stream and `loop` the closed loop's
words they use; import them from here.
"""

from __future__ import annotations

from .cases import (
    AlertAcknowledged,
    BreakGlassOpened,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseOwnerCleared,
    CaseReportsAttached,
    CaseSeverityChanged,
    CaseTransitioned,
    FamilyContactDecided,
    FollowUpUpdated,
    PlanUpdated,
    ReferralUpdated,
    StaffListingChanged,
    StudentErased,
)
from .directory import (
    DirectoryEntry,
    ResponsibleStaff,
    StudentRouting,
)
from .loop import (
    CaseOutcome,
    CaseState,
    FamilyContactDecision,
    FollowUpFinding,
    FollowUpStatus,
    ReferralStatus,
)

__all__ = [
    "AlertAcknowledged",
    "BreakGlassOpened",
    "CaseAssigned",
    "CaseClosed",
    "CaseOpened",
    "CaseOutcome",
    "CaseOwnerCleared",
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
    "PlanUpdated",
    "ReferralStatus",
    "ReferralUpdated",
    "ResponsibleStaff",
    "StaffListingChanged",
    "StudentErased",
    "StudentRouting",
]
