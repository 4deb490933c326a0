"""Referral (转介) as its own loop, and consent that is recorded, never silently skipped.

A referral names a destination and its type, carries the student's consent (or an override
by an authorised role with a written reason), and moves pending → accepted / not_accepted →
returned (the student is back on campus: aftercare and a follow-up follow) or referred_again.
Family-contact consent follows the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shouwang_contracts.events.casework import ReferralStatus
from shouwang_contracts.vocabulary import Tier

from .guards import (
    MISSING,
    Actor,
    ConsentDecision,
    InvalidTransition,
    MissingRecord,
    NotPermitted,
)


class DestinationType(StrEnum):
    """Where a student is referred."""

    HOSPITAL = "hospital"  # 医院
    PSYCHIATRIC_SERVICE = "psychiatric_service"  # 精神专科
    OUTSIDE_COUNSELOR = "outside_counselor"  # 校外咨询师


REFERRAL_STEPS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.PENDING: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.NOT_ACCEPTED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.RETURNED, ReferralStatus.REFERRED_AGAIN}),
    ReferralStatus.NOT_ACCEPTED: frozenset({ReferralStatus.REFERRED_AGAIN}),
    ReferralStatus.RETURNED: frozenset({ReferralStatus.REFERRED_AGAIN}),
    ReferralStatus.REFERRED_AGAIN: frozenset(),
}

# Overriding a student's refusal is a clinical decision: community psychology teacher or above.
OVERRIDE_MIN_TIER = Tier.COMMUNITY_PSYCH_TEACHER


def check_consent(actor: Actor, decision: ConsentDecision, override_reason: str | None) -> None:
    """Consent must be given, or overridden by tier 5+ with a written reason.

    A declined consent blocks what needs it; nothing lets consent be left out.
    """
    if decision is ConsentDecision.DECLINED:
        raise MissingRecord(
            "consent_declined",
            "consent was declined: record an override by an authorised role, with a reason",
            field="consent",
            field_message="declined by the student",
        )
    if decision is ConsentDecision.OVERRIDDEN:
        if actor.tier < OVERRIDE_MIN_TIER:
            raise NotPermitted("override_forbidden", "only tier 5+ may override consent")
        if not (override_reason or "").strip():
            raise MissingRecord(
                "override_reason_required",
                "an override of consent needs a written reason",
                field="override_reason",
                field_message=MISSING,
            )


@dataclass(frozen=True, slots=True)
class ReferralRequest:
    """What a referral must record: destination, its type, and the consent decision."""

    destination_type: DestinationType
    destination: str
    consent: ConsentDecision
    override_reason: str | None = None

    def check(self, actor: Actor) -> None:
        """Refuse a referral without a destination or without consent (or a valid override)."""
        if not self.destination.strip():
            raise MissingRecord(
                "destination_required",
                "a referral needs a destination",
                field="destination",
                field_message=MISSING,
            )
        check_consent(actor, self.consent, self.override_reason)


@dataclass
class Referral:
    """One referral of a case and where it stands."""

    referral_id: str
    case_id: str
    destination_type: DestinationType
    destination: str
    status: ReferralStatus
    consent: str
    created_at: datetime
    updated_at: datetime
    returned_at: datetime | None = None
    version: int = 1

    def move(self, status: ReferralStatus, at: datetime) -> None:
        """Advance the referral; `returned` records the return to campus."""
        if status not in REFERRAL_STEPS[self.status]:
            nexts = sorted(REFERRAL_STEPS[self.status], key=list(ReferralStatus).index)
            raise InvalidTransition(
                "referral_step_not_allowed",
                f"a referral cannot go from {self.status.value} to {status.value}; from"
                f" {self.status.value} it may go to: {', '.join(n.value for n in nexts) or 'nothing'}",
                detail_zh=f"转介状态不能从“{self.status.label()}”变为“{status.label()}”；"
                + (
                    f"当前可变为：{'、'.join(n.label() for n in nexts)}"
                    if nexts
                    else "这次转介已是最后一步，不能再变更"
                ),
            )
        self.status = status
        self.updated_at = at
        self.version += 1
        if status is ReferralStatus.RETURNED:
            self.returned_at = at
