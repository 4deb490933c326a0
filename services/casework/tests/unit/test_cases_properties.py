"""Random walks through the loop: whatever staff try, the invariants hold.

A small in-memory caseload drives the real domain code with random warnings, transitions
(with and without what they need on record, by actors of every role), follow-ups and reopens,
and after every step checks: one active case per student, closed only via follow_up (or never
re-closed without it), a severe case never closes without a completed follow-up, history only
grows and agrees with the state.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from shouwang_casework.domain.cases import Case, Change, open_or_attach
from shouwang_casework.domain.guards import Actor, CaseRuleViolation, ConsentDecision
from shouwang_casework.domain.referral import DestinationType, ReferralRequest
from shouwang_casework.domain.transitions import SERIOUS, CaseFacts, TransitionRequest
from shouwang_contracts.events.casework import CaseOutcome, CaseState, ReferralStatus
from shouwang_contracts.vocabulary import Role, Severity

STUDENTS = ["stu_a", "stu_b", "stu_c"]
actors = st.builds(Actor, st.just("per_x"), st.sampled_from(list(Role)), st.booleans())
severities = st.sampled_from([Severity.MILD, Severity.MODERATE, Severity.SEVERE, Severity.CRITICAL])
referrals = st.none() | st.builds(
    ReferralRequest,
    st.sampled_from(list(DestinationType)),
    st.sampled_from(["", "市第一医院"]),
    st.sampled_from(list(ConsentDecision)),
    st.sampled_from([None, "", "有生命危险"]),
)
requests = st.builds(
    TransitionRequest,
    to_state=st.sampled_from(list(CaseState)),
    reason=st.sampled_from([None, "", "复发"]),
    action_taken=st.sampled_from([None, "谈话"]),
    referral=referrals,
    outcome=st.none() | st.sampled_from(list(CaseOutcome)),
)


@dataclass
class Tracked:
    case: Case
    completed_follow_ups: int = 0
    referral_status: ReferralStatus | None = None
    seen: list[Change] = field(default_factory=list)
    closes_checked: int = 0


class Caseload(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cases: list[Tracked] = []
        self.now = datetime(2026, 3, 2, tzinfo=UTC)

    def tick(self) -> datetime:
        self.now += timedelta(minutes=5)
        return self.now

    def active_of(self, student: str) -> Case | None:
        return next(
            (t.case for t in self.cases if t.case.student_ref == student and t.case.active), None
        )

    @rule(student=st.sampled_from(STUDENTS), severity=severities)
    def warning_arrives(self, student: str, severity: Severity) -> None:
        case, created = open_or_attach(
            self.active_of(student),
            new_case_id=f"c{len(self.cases)}",
            campus_id="campus-a",
            student_ref=student,
            assessment_id=f"a{len(self.cases)}-{self.now.timestamp()}",
            severity=severity,
            report_ids=[],
            owner_role=Role.RESIDENCE_COUNSELOR,
            owner_ref=None,
            at=self.tick(),
        )
        if created:
            self.cases.append(Tracked(case))

    @rule(index=st.integers(0, 20), actor=actors, request=requests)
    def staff_move_a_case(self, index: int, actor: Actor, request: TransitionRequest) -> None:
        if not self.cases:
            return
        tracked = self.cases[index % len(self.cases)]
        case = tracked.case
        others = self.active_of(case.student_ref)
        facts = CaseFacts(
            completed_follow_ups=tracked.completed_follow_ups,
            referral_status=tracked.referral_status,
            student_has_other_active_case=others is not None and others is not case,
        )
        before = (case.state, case.severity)
        try:
            case.transition(actor, request, self.tick(), facts)
        except CaseRuleViolation:
            assert (case.state, case.severity) == before
            return
        if case.state is CaseState.CLOSED:
            assert before[0] is CaseState.FOLLOW_UP
            assert case.severity not in SERIOUS or tracked.completed_follow_ups >= 1
            assert case.severity not in SERIOUS or actor.tier >= 5
        if case.state is CaseState.REFERRED:
            tracked.referral_status = ReferralStatus.PENDING

    @rule(index=st.integers(0, 20), status=st.sampled_from(list(ReferralStatus)))
    def referral_moves(self, index: int, status: ReferralStatus) -> None:
        if self.cases:
            tracked = self.cases[index % len(self.cases)]
            if tracked.referral_status is not None:
                tracked.referral_status = status

    @rule(index=st.integers(0, 20))
    def follow_up_completed(self, index: int) -> None:
        if self.cases:
            self.cases[index % len(self.cases)].completed_follow_ups += 1

    @invariant()
    def one_active_case_per_student(self) -> None:
        for student in STUDENTS:
            active = [t for t in self.cases if t.case.student_ref == student and t.case.active]
            assert len(active) <= 1

    @invariant()
    def history_only_grows_and_agrees_with_state(self) -> None:
        for tracked in self.cases:
            changes = tracked.case.changes
            assert changes[: len(tracked.seen)] == tracked.seen
            tracked.seen = list(changes)
            moves = [c for c in changes if c.to_state is not None]
            assert moves[-1].to_state is tracked.case.state
            for earlier, later in itertools.pairwise(moves):
                assert later.from_state is earlier.to_state
            assert all(a.at <= b.at for a, b in itertools.pairwise(changes))
            closed = tracked.case.state is CaseState.CLOSED
            assert closed == (tracked.case.closed_at is not None)
            assert closed == (tracked.case.outcome is not None)


Caseload.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_cases_loop_invariants = Caseload.TestCase
