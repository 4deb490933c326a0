"""The closed loop (帮扶闭环): a case, its states, and who may move it with what on record.

Pure domain code: the standard library and the contract's vocabulary enums only. A case
records every change as a `Change` (the service layer stores it as an immutable history row,
seals its free text and turns it into public events); guards raise `CaseRuleViolation`s that
name the rule broken, so HTTP can answer with a precise problem.

States: open (发现) → monitoring (监控) → intervention (干预) → referred (转介) → aftercare (善后)
→ follow_up (回访) → closed (结案), with relapse paths back to monitoring or intervention and a
reopen after closure. Which step is allowed from where, and what it needs on record, is
`transitions.py`; this module opens cases, attaches warnings, assigns owners and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shouwang_contracts.events.casework import CaseOutcome, CaseState
from shouwang_contracts.vocabulary import Role, Severity

from .guards import Actor, CaseRuleViolation, may_assign, require
from .transitions import CaseFacts, TransitionRequest, check_transition

S = CaseState

# Who owns an alert by default when triage names no owner: the escalation ladder's first rung.
DEFAULT_OWNER_ROLE: dict[Severity, Role] = {
    Severity.MILD: Role.RESIDENCE_COUNSELOR,
    Severity.MODERATE: Role.COMMUNITY_PSYCH_TEACHER,
    Severity.SEVERE: Role.COUNSELING_CENTER,
    Severity.CRITICAL: Role.COUNSELING_CENTER,
}

SYSTEM_REF = "system:casework"
SYSTEM_ROLE = "system"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a case's history: what changed, by whom, when.

    `detail` holds structured fields only; `text` is free text that the service layer seals
    before it is stored, and that never leaves casework.
    """

    kind: str
    actor_ref: str
    actor_role: str
    at: datetime
    from_state: CaseState | None = None
    to_state: CaseState | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


@dataclass
class Case:
    """A student's case: state, severity, owner, and the changes not yet stored."""

    case_id: str
    campus_id: str
    student_ref: str
    state: CaseState
    severity: Severity
    owner_role: Role
    owner_ref: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    outcome: CaseOutcome | None = None
    report_ids: list[str] = field(default_factory=list)
    version: int = 1
    changes: list[Change] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state is not S.CLOSED

    @classmethod
    def open(
        cls,
        *,
        case_id: str,
        campus_id: str,
        student_ref: str,
        severity: Severity,
        owner_role: Role,
        owner_ref: str | None,
        at: datetime,
        report_ids: list[str] | None = None,
        source: dict[str, Any] | None = None,
    ) -> Case:
        """Open a case (发现) for a warning of at least mild severity."""
        if severity < Severity.MILD:
            raise CaseRuleViolation("severity_too_low", "no case opens for severity none")
        case = cls(
            case_id=case_id,
            campus_id=campus_id,
            student_ref=student_ref,
            state=S.OPEN,
            severity=severity,
            owner_role=owner_role,
            owner_ref=owner_ref,
            opened_at=at,
            updated_at=at,
            report_ids=list(dict.fromkeys(report_ids or [])),
        )
        case._record(
            "opened",
            SYSTEM_REF,
            SYSTEM_ROLE,
            at,
            to_state=S.OPEN,
            detail={
                "severity": severity.value,
                "owner_role": owner_role.value,
                "owner_ref": owner_ref,
                "report_ids": list(case.report_ids),
                **(source or {}),
            },
        )
        return case

    def attach(
        self, *, assessment_id: str, severity: Severity, report_ids: list[str], at: datetime
    ) -> list[str]:
        """Attach a new assessment; raises the severity if higher. Returns newly added report ids.

        Severity never drops by attachment: a case is as serious as the worst it has seen.
        """
        new_reports = [r for r in dict.fromkeys(report_ids) if r not in self.report_ids]
        self.report_ids.extend(new_reports)
        previous = self.severity
        if severity > previous:
            self.severity = severity
            self._record(
                "severity_changed",
                SYSTEM_REF,
                SYSTEM_ROLE,
                at,
                detail={
                    "from_severity": previous.value,
                    "to_severity": severity.value,
                    "assessment_id": assessment_id,
                    "report_ids": new_reports,
                },
            )
        else:
            self._record(
                "assessment_attached",
                SYSTEM_REF,
                SYSTEM_ROLE,
                at,
                detail={
                    "assessment_id": assessment_id,
                    "severity": severity.value,
                    "report_ids": new_reports,
                },
            )
        return new_reports

    def assign(
        self,
        *,
        owner_ref: str,
        owner_role: Role,
        at: datetime,
        actor: Actor | None = None,
        reason: str | None = None,
    ) -> bool:
        """Give the case to `owner_ref`. A person (not the system) needs `may_assign`.
        `reason` is a code for the history (why the system moved it), never free text.

        Returns False (and records nothing) when that person already owns it.
        """
        if actor is not None:
            require(may_assign(actor), "assign_forbidden", "tier 5+ in scope")
        if owner_ref == self.owner_ref and owner_role is self.owner_role:
            return False
        previous = self.owner_ref
        self.owner_ref, self.owner_role = owner_ref, owner_role
        self._record(
            "assigned",
            actor.ref if actor else SYSTEM_REF,
            actor.role.value if actor else SYSTEM_ROLE,
            at,
            detail={
                "owner_ref": owner_ref,
                "owner_role": owner_role.value,
                "previous_owner_ref": previous,
                **({"reason": reason} if reason else {}),
            },
        )
        return True

    def release(self, *, at: datetime, reason: str) -> bool:
        """Take the case from its owner with nobody to take it over (the system only): it
        shows unowned in the queue, needing someone to take it. The role stays, so whoever
        takes it up next knows which rung it belongs to. `reason` is a code, never free text.

        Returns False (and records nothing) when nobody owns it.
        """
        if self.owner_ref is None:
            return False
        previous, self.owner_ref = self.owner_ref, None
        self._record(
            "owner_cleared",
            SYSTEM_REF,
            SYSTEM_ROLE,
            at,
            detail={
                "owner_role": self.owner_role.value,
                "previous_owner_ref": previous,
                "reason": reason,
            },
        )
        return True

    def transition(
        self, actor: Actor, request: TransitionRequest, at: datetime, facts: CaseFacts
    ) -> Change:
        """Move the case, if the loop allows the step and everything it needs is on record."""
        step = check_transition(
            actor, request, state=self.state, severity=self.severity, facts=facts
        )
        source, self.state = self.state, request.to_state
        if request.to_state is S.CLOSED:
            self.outcome = request.outcome
        return self._record(
            "transitioned",
            actor.ref,
            actor.role.value,
            at,
            from_state=source,
            to_state=request.to_state,
            detail=step.detail,
            text=step.text,
        )

    def _record(
        self,
        kind: str,
        actor_ref: str,
        actor_role: str,
        at: datetime,
        *,
        from_state: CaseState | None = None,
        to_state: CaseState | None = None,
        detail: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> Change:
        change = Change(
            kind=kind,
            actor_ref=actor_ref,
            actor_role=actor_role,
            at=at,
            from_state=from_state,
            to_state=to_state,
            detail=detail or {},
            text=text,
        )
        self.changes.append(change)
        self.updated_at = at
        if to_state is S.CLOSED:
            self.closed_at = at
        elif to_state is not None and from_state is S.CLOSED:
            self.closed_at, self.outcome = None, None
        return change

    def record(
        self, kind: str, actor: Actor, at: datetime, *, detail: dict[str, Any], text: str | None
    ) -> Change:
        """Record a change that does not move the case (a note, a follow-up, a consent...)."""
        return self._record(kind, actor.ref, actor.role.value, at, detail=detail, text=text)

    def record_system(self, kind: str, at: datetime, *, detail: dict[str, Any]) -> Change:
        """Record a change casework made by itself (a missed follow-up flagged, ...)."""
        return self._record(kind, SYSTEM_REF, SYSTEM_ROLE, at, detail=detail)

    def pending_changes(self) -> list[Change]:
        """Changes made since the case was loaded, in order; the caller stores them."""
        return list(self.changes)


def open_or_attach(
    active: Case | None,
    *,
    new_case_id: str,
    campus_id: str,
    student_ref: str,
    assessment_id: str,
    severity: Severity,
    report_ids: list[str],
    owner_role: Role,
    owner_ref: str | None,
    at: datetime,
    source: dict[str, Any] | None = None,
) -> tuple[Case, bool]:
    """The student's active case with this warning attached, or a new one; True if new.

    One active case per student: a warning never opens a second case beside an active one.
    """
    if active is not None and active.active:
        active.attach(assessment_id=assessment_id, severity=severity, report_ids=report_ids, at=at)
        return active, False
    case = Case.open(
        case_id=new_case_id,
        campus_id=campus_id,
        student_ref=student_ref,
        severity=severity,
        owner_role=owner_role,
        owner_ref=owner_ref,
        at=at,
        report_ids=report_ids,
        source=source or {"assessment_id": assessment_id},
    )
    return case, True
