"""The loop's steps (帮扶闭环): which step a case may take from where, and what each step
needs on record.

Pure domain code, like `cases.py`, which applies a step once `check_transition` has let it
through: this module decides, the case records. A refused step raises the
`CaseRuleViolation` naming the rule broken, so HTTP can answer with a precise problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shouwang_contracts.events.casework import CaseOutcome, CaseState, ReferralStatus
from shouwang_contracts.vocabulary import Severity, Tier

from .guards import MISSING, Actor, InvalidTransition, MissingRecord, may_work_cases, require
from .referral import ReferralRequest

S = CaseState

# Forward steps of the loop. A mild case may go from monitoring straight to follow-up, and a
# crisis straight from open to intervention: the loop is an order, not a checklist.
FORWARD: dict[CaseState, frozenset[CaseState]] = {
    S.OPEN: frozenset({S.MONITORING, S.INTERVENTION}),
    S.MONITORING: frozenset({S.INTERVENTION, S.FOLLOW_UP}),
    S.INTERVENTION: frozenset({S.REFERRED, S.AFTERCARE, S.FOLLOW_UP}),
    S.REFERRED: frozenset({S.AFTERCARE}),
    S.AFTERCARE: frozenset({S.FOLLOW_UP}),
    S.FOLLOW_UP: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Relapse (复发) paths: back to closer watch or active help, from anywhere after open.
RELAPSE: dict[CaseState, frozenset[CaseState]] = {
    S.OPEN: frozenset(),
    S.MONITORING: frozenset(),
    S.INTERVENTION: frozenset({S.MONITORING}),
    S.REFERRED: frozenset({S.INTERVENTION, S.MONITORING}),
    S.AFTERCARE: frozenset({S.INTERVENTION, S.MONITORING}),
    S.FOLLOW_UP: frozenset({S.INTERVENTION, S.MONITORING}),
    # Reopening a closed case (重新开案) goes back to watch or help, never straight to the end.
    S.CLOSED: frozenset({S.MONITORING, S.INTERVENTION}),
}

SERIOUS = frozenset({Severity.SEVERE, Severity.CRITICAL})


def allowed_targets(state: CaseState) -> frozenset[CaseState]:
    """Every state a case in `state` may move to (forward or on a relapse path)."""
    return FORWARD[state] | RELAPSE[state]


@dataclass(frozen=True, slots=True)
class TransitionRequest:
    """A request to move a case, with what the target state needs on record."""

    to_state: CaseState
    reason: str | None = None
    action_taken: str | None = None
    referral: ReferralRequest | None = None
    outcome: CaseOutcome | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the guards need to know beyond the case itself (read by the service layer)."""

    completed_follow_ups: int = 0
    referral_status: ReferralStatus | None = None
    student_has_other_active_case: bool = False


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What the case's history keeps of an allowed step: structured `detail`, and `text`
    (free text the service layer seals)."""

    detail: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


def check_transition(
    actor: Actor,
    request: TransitionRequest,
    *,
    state: CaseState,
    severity: Severity,
    facts: CaseFacts,
) -> StepRecord:
    """Whether a case in `state` of `severity` may take the requested step: what to record
    of it, or the `CaseRuleViolation` that refuses it."""
    require(may_work_cases(actor), "transition_forbidden", "tier 4+ in scope may move cases")
    target, source = request.to_state, state
    if target not in allowed_targets(source):
        nexts = sorted(allowed_targets(source), key=list(S).index)
        raise InvalidTransition(
            "transition_not_allowed",
            f"no step from {source.value} to {target.value}; from {source.value} a case"
            f" may go to: {', '.join(t.value for t in nexts)}",
            detail_zh=f"闭环流程不能从“{source.label()}”直接进入“{target.label()}”；"
            f"当前可进入：{'、'.join(t.label() for t in nexts)}",
        )
    relapse = target in RELAPSE[source]
    detail: dict[str, Any] = {}
    text = None
    if relapse:
        text = _text(request.reason)
        if text is None:
            kind = "reopen" if source is S.CLOSED else "relapse"
            raise MissingRecord(
                "reason_required",
                f"a {kind} needs a written reason",
                field="reason",
                field_message=MISSING,
            )
        if source is S.CLOSED and facts.student_has_other_active_case:
            raise InvalidTransition(
                "student_has_active_case", "the student already has an active case"
            )
        detail["path"] = "reopen" if source is S.CLOSED else "relapse"
    if target is S.INTERVENTION and not relapse:
        text = _text(request.action_taken)
        if text is None:
            raise MissingRecord(
                "action_taken_required",
                "intervention needs what was done",
                field="action_taken",
                field_message=MISSING,
            )
    if target is S.REFERRED:
        detail.update(_check_referral(actor, request.referral))
    returned = facts.referral_status is ReferralStatus.RETURNED
    if target is S.AFTERCARE and source is S.REFERRED and not returned:
        raise MissingRecord(
            "referral_not_returned",
            "aftercare follows the student's return from the referral",
            field="referral.status",
            field_message="not returned yet",
        )
    if target is S.CLOSED:
        detail.update(_check_closing(actor, request.outcome, severity, facts))
        text = _text(request.reason)
    return StepRecord(detail, text)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _check_referral(actor: Actor, referral: ReferralRequest | None) -> dict[str, Any]:
    if referral is None:
        raise MissingRecord(
            "referral_required",
            "a referral needs destination and type",
            field="referral",
            field_message=MISSING,
        )
    referral.check(actor)
    return {"referral_type": referral.destination_type.value, "consent": referral.consent.value}


def _check_closing(
    actor: Actor, outcome: CaseOutcome | None, severity: Severity, facts: CaseFacts
) -> dict[str, Any]:
    if outcome is None:
        raise MissingRecord(
            "outcome_required", "closing needs an outcome", field="outcome", field_message=MISSING
        )
    if severity in SERIOUS:
        require(
            actor.tier >= Tier.COMMUNITY_PSYCH_TEACHER,
            "close_needs_tier5",
            "a severe or critical case is closed by tier 5 or higher",
        )
        if facts.completed_follow_ups < 1:
            raise MissingRecord(
                "follow_up_required",
                "a severe or critical case closes only after a completed follow-up",
                field="follow_up",
                field_message="no completed follow-up on this case yet",
            )
    return {"outcome": outcome.value}
