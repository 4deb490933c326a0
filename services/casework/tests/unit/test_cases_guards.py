"""The closed loop's guards: who may move a case, and what must be on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shouwang_casework.domain.cases import Case, open_or_attach
from shouwang_casework.domain.followup import FollowUp, FollowUpPurpose
from shouwang_casework.domain.guards import (
    Actor,
    ConsentDecision,
    InvalidTransition,
    MissingRecord,
    NotPermitted,
    may_acknowledge,
    may_read_cases,
    roles_acknowledged_by,
    roles_awaiting,
    roles_stood_in_for,
)
from shouwang_casework.domain.plan import ActionKind, ActionStatus, Plan, PlanAction
from shouwang_casework.domain.referral import DestinationType, Referral, ReferralRequest
from shouwang_casework.domain.transitions import CaseFacts, TransitionRequest, allowed_targets
from shouwang_contracts.events.casework import (
    CaseOutcome,
    CaseState,
    FollowUpStatus,
    ReferralStatus,
)
from shouwang_contracts.vocabulary import Role, Severity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = CaseState
COUNSELOR = Actor("per_counselor", Role.RESIDENCE_COUNSELOR, in_scope=True)
TEACHER = Actor("per_teacher", Role.COMMUNITY_PSYCH_TEACHER, in_scope=True)
CENTER = Actor("per_center", Role.COUNSELING_CENTER, in_scope=True)
OTHER_BUILDING = Actor("per_other", Role.RESIDENCE_COUNSELOR, in_scope=False)
STUDENT = Actor("per_student", Role.CLASS_WELLBEING_OFFICER, in_scope=True)
CONSENTED = ReferralRequest(DestinationType.HOSPITAL, "市精神卫生中心", ConsentDecision.GIVEN)


def new_case(severity: Severity = Severity.MODERATE) -> Case:
    return Case.open(
        case_id="c1",
        campus_id="campus-a",
        student_ref="stu_x",
        severity=severity,
        owner_role=Role.COMMUNITY_PSYCH_TEACHER,
        owner_ref=None,
        at=T0,
        report_ids=["r1"],
    )


def move(case: Case, actor: Actor, to: CaseState, facts: CaseFacts | None = None, **kw) -> None:
    case.transition(actor, TransitionRequest(to_state=to, **kw), T0, facts or CaseFacts())


def test_open_records_a_system_change_and_no_case_for_none() -> None:
    case = new_case()
    assert case.state is S.OPEN
    assert [c.kind for c in case.changes] == ["opened"]
    with pytest.raises(Exception, match="severity none"):
        new_case(Severity.NONE)


def test_attaching_raises_severity_and_never_lowers_it() -> None:
    case = new_case(Severity.MODERATE)
    assert case.attach(
        assessment_id="a2", severity=Severity.SEVERE, report_ids=["r1", "r2"], at=T0
    ) == ["r2"]
    assert case.severity is Severity.SEVERE
    case.attach(assessment_id="a3", severity=Severity.MILD, report_ids=[], at=T0)
    assert case.severity is Severity.SEVERE
    assert [c.kind for c in case.changes] == ["opened", "severity_changed", "assessment_attached"]


def test_open_or_attach_keeps_one_active_case() -> None:
    case = new_case()
    same, created = open_or_attach(
        case,
        new_case_id="c2",
        campus_id="campus-a",
        student_ref="stu_x",
        assessment_id="a2",
        severity=Severity.MILD,
        report_ids=[],
        owner_role=Role.RESIDENCE_COUNSELOR,
        owner_ref=None,
        at=T0,
    )
    assert same is case
    assert not created


@pytest.mark.parametrize("actor", [STUDENT, OTHER_BUILDING])
def test_students_and_out_of_scope_staff_cannot_move_a_case(actor: Actor) -> None:
    with pytest.raises(NotPermitted):
        move(new_case(), actor, S.MONITORING)


def test_students_never_read_case_data() -> None:
    assert not may_read_cases(STUDENT)
    assert not may_read_cases(Actor("p", Role.AUDITOR, in_scope=True))
    assert may_read_cases(COUNSELOR)


def test_the_loop_has_no_shortcuts() -> None:
    with pytest.raises(InvalidTransition):
        move(new_case(), COUNSELOR, S.CLOSED, outcome=CaseOutcome.RELIEVED)
    assert S.CLOSED not in allowed_targets(S.OPEN)


def test_intervention_needs_what_was_done() -> None:
    with pytest.raises(MissingRecord) as refused:
        move(new_case(), COUNSELOR, S.INTERVENTION, action_taken="  ")
    assert refused.value.field == "action_taken"
    case = new_case()
    move(case, COUNSELOR, S.INTERVENTION, action_taken="谈心谈话一次")
    assert case.changes[-1].text == "谈心谈话一次"


def test_referral_needs_destination_and_consent_or_a_reasoned_override() -> None:
    def at_intervention() -> Case:
        case = new_case()
        move(case, COUNSELOR, S.INTERVENTION, action_taken="x")
        return case

    with pytest.raises(MissingRecord, match="destination"):
        move(at_intervention(), COUNSELOR, S.REFERRED)
    declined = ReferralRequest(DestinationType.HOSPITAL, "H", ConsentDecision.DECLINED)
    with pytest.raises(MissingRecord, match="declined"):
        move(at_intervention(), CENTER, S.REFERRED, referral=declined)
    override = ReferralRequest(DestinationType.HOSPITAL, "H", ConsentDecision.OVERRIDDEN)
    with pytest.raises(NotPermitted):
        move(at_intervention(), COUNSELOR, S.REFERRED, referral=override)
    with pytest.raises(MissingRecord, match="reason"):
        move(at_intervention(), CENTER, S.REFERRED, referral=override)
    reasoned = ReferralRequest(
        DestinationType.HOSPITAL, "H", ConsentDecision.OVERRIDDEN, override_reason="生命危险"
    )
    case = at_intervention()
    move(case, CENTER, S.REFERRED, referral=reasoned)
    assert case.changes[-1].detail == {"referral_type": "hospital", "consent": "overridden"}


def test_aftercare_after_referral_waits_for_the_return() -> None:
    case = new_case()
    move(case, COUNSELOR, S.INTERVENTION, action_taken="x")
    move(case, COUNSELOR, S.REFERRED, referral=CONSENTED)
    with pytest.raises(MissingRecord, match="return"):
        move(case, COUNSELOR, S.AFTERCARE, CaseFacts(referral_status=ReferralStatus.ACCEPTED))
    move(case, COUNSELOR, S.AFTERCARE, CaseFacts(referral_status=ReferralStatus.RETURNED))
    assert case.state is S.AFTERCARE


def to_follow_up(severity: Severity) -> Case:
    case = new_case(severity)
    move(case, COUNSELOR, S.MONITORING)
    move(case, COUNSELOR, S.FOLLOW_UP)
    return case


def test_closing_needs_an_outcome() -> None:
    with pytest.raises(MissingRecord) as refused:
        move(to_follow_up(Severity.MILD), COUNSELOR, S.CLOSED)
    assert refused.value.field == "outcome"
    case = to_follow_up(Severity.MILD)
    move(case, COUNSELOR, S.CLOSED, outcome=CaseOutcome.RELIEVED)
    assert (case.state, case.outcome, case.closed_at) == (S.CLOSED, CaseOutcome.RELIEVED, T0)


def test_a_severe_case_closes_only_by_tier5_after_a_completed_follow_up() -> None:
    done = CaseFacts(completed_follow_ups=1)
    with pytest.raises(NotPermitted, match="tier 5"):
        move(to_follow_up(Severity.SEVERE), COUNSELOR, S.CLOSED, done, outcome=CaseOutcome.STABLE)
    with pytest.raises(MissingRecord, match="follow-up"):
        move(to_follow_up(Severity.CRITICAL), TEACHER, S.CLOSED, outcome=CaseOutcome.STABLE)
    case = to_follow_up(Severity.SEVERE)
    move(case, TEACHER, S.CLOSED, done, outcome=CaseOutcome.STABLE)
    assert case.state is S.CLOSED


def test_relapse_and_reopen_need_a_reason_and_reopen_needs_no_other_active_case() -> None:
    case = to_follow_up(Severity.MILD)
    with pytest.raises(MissingRecord, match="relapse"):
        move(case, COUNSELOR, S.INTERVENTION)
    move(case, COUNSELOR, S.CLOSED, outcome=CaseOutcome.RELIEVED)
    with pytest.raises(InvalidTransition, match="active case"):
        move(
            case,
            COUNSELOR,
            S.MONITORING,
            CaseFacts(student_has_other_active_case=True),
            reason="复发",
        )
    move(case, COUNSELOR, S.MONITORING, reason="复发")
    assert (case.state, case.outcome, case.closed_at) == (S.MONITORING, None, None)
    assert case.changes[-1].detail == {"path": "reopen"}


def test_assignment_needs_tier5_or_campus_admin() -> None:
    case = new_case()
    with pytest.raises(NotPermitted):
        case.assign(owner_ref="per_b", owner_role=Role.RESIDENCE_COUNSELOR, at=T0, actor=COUNSELOR)
    assert case.assign(owner_ref="per_b", owner_role=Role.RESIDENCE_COUNSELOR, at=T0, actor=TEACHER)
    assert not case.assign(owner_ref="per_b", owner_role=Role.RESIDENCE_COUNSELOR, at=T0)


def test_referral_steps() -> None:
    referral = Referral(
        "f1", "c1", DestinationType.HOSPITAL, "H", ReferralStatus.PENDING, "given", T0, T0
    )
    with pytest.raises(InvalidTransition):
        referral.move(ReferralStatus.RETURNED, T0)
    referral.move(ReferralStatus.ACCEPTED, T0)
    referral.move(ReferralStatus.RETURNED, T0 + timedelta(days=3))
    assert referral.returned_at == T0 + timedelta(days=3)


def test_a_follow_up_handed_on_keeps_its_due_time_and_is_not_flagged_missed_twice() -> None:
    follow_up = FollowUp(
        "u1", "c1", FollowUpPurpose.ROUTINE, T0, "per_a", FollowUpStatus.SCHEDULED, "per_a", T0
    )
    later = T0 + timedelta(hours=1)
    follow_up.reminded_at = later
    follow_up.hand_to("per_b")
    assert (follow_up.assignee_ref, follow_up.due_at, follow_up.version) == ("per_b", T0, 2)
    assert not follow_up.needs_reminder(later)
    follow_up.hand_to(None)
    assert follow_up.assignee_ref is None
    follow_up.close(FollowUpStatus.CANCELLED, "per_c", later, reason="学生已转学")
    with pytest.raises(InvalidTransition):
        follow_up.hand_to("per_d")


def test_a_missed_follow_up_reminds_once_and_closes_by_hand_with_why() -> None:
    follow_up = FollowUp(
        "u1", "c1", FollowUpPurpose.ROUTINE, T0, "per_a", FollowUpStatus.SCHEDULED, "per_a", T0
    )
    later = T0 + timedelta(hours=1)
    assert follow_up.needs_reminder(later)
    follow_up.reminded_at = later
    assert follow_up.is_missed(later)
    assert not follow_up.needs_reminder(later)
    with pytest.raises(MissingRecord):
        follow_up.close(FollowUpStatus.COMPLETED, "per_a", later, reason="")
    follow_up.close(FollowUpStatus.COMPLETED, "per_a", later, reason="已电话回访，情绪平稳")
    with pytest.raises(InvalidTransition):
        follow_up.move(later, None)


def test_plan_versions_and_counts() -> None:
    action = PlanAction("a1", ActionKind.TALK, "per_a", None, ActionStatus.OPEN)
    plan = Plan("c1").revise([action], [T0 + timedelta(days=7)])
    assert (plan.version, plan.actions_open, plan.actions_done) == (1, 1, 0)
    done = PlanAction("a1", ActionKind.TALK, "per_a", None, ActionStatus.DONE)
    plan = plan.revise([done], [])
    assert (plan.version, plan.actions_open, plan.actions_done) == (2, 0, 1)
    with pytest.raises(MissingRecord):
        plan.revise([action, action], [])


@pytest.mark.parametrize(
    ("role", "owners"),
    [
        (Role.RESIDENCE_COUNSELOR, {Role.RESIDENCE_COUNSELOR}),
        (Role.COMMUNITY_PSYCH_TEACHER, {Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER}),
        (
            Role.COUNSELING_CENTER,
            {
                Role.RESIDENCE_COUNSELOR,
                Role.COMMUNITY_PSYCH_TEACHER,
                Role.COUNSELING_CENTER,
                Role.COLLEGE_LEADER,
            },
        ),
        (Role.COLLEGE_LEADER, set()),
        (Role.DORM_LEADER, set()),
        (Role.CAMPUS_ADMIN, set()),
    ],
)
def test_whose_alerts_each_role_may_acknowledge(role: Role, owners: set[Role]) -> None:
    """Alerts climb the ladder, never down: an alert the college leader owns (past the
    center) is still the center's to stop; no one acknowledges out of scope."""
    # The rungs an alert can stand on (triage never gives one to a student or an admin).
    rungs = {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
    assert set(roles_acknowledged_by(role)) & rungs == owners
    for owner in Role:
        assert not may_acknowledge(Actor("x", role, in_scope=False), owner)


@pytest.mark.parametrize(
    ("role", "owners"),
    [
        (Role.RESIDENCE_COUNSELOR, {Role.RESIDENCE_COUNSELOR}),
        (Role.COMMUNITY_PSYCH_TEACHER, {Role.COMMUNITY_PSYCH_TEACHER}),
        (Role.COUNSELING_CENTER, {Role.COUNSELING_CENTER, Role.COLLEGE_LEADER}),
        (Role.COLLEGE_LEADER, set()),
        (Role.CAMPUS_ADMIN, set()),
    ],
)
def test_an_alert_waits_for_the_lowest_tier_that_may_stop_it(role: Role, owners: set[Role]) -> None:
    """The center may stop a counselor's alert, but it is the counselor's until it climbs:
    the center's list holds its own rung and what climbed past it, not every alert of the
    campus."""
    # The rungs an alert can stand on (triage never gives one to a student or an admin).
    rungs = {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
    assert set(roles_awaiting(role)) & rungs == owners
    assert set(roles_awaiting(role)) <= set(roles_acknowledged_by(role))


@pytest.mark.parametrize(
    ("role", "stood_in_for"),
    [
        (Role.RESIDENCE_COUNSELOR, []),
        (Role.COMMUNITY_PSYCH_TEACHER, [Role.RESIDENCE_COUNSELOR]),
        (Role.COUNSELING_CENTER, [Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER]),
        (Role.COLLEGE_LEADER, []),
        (Role.CAMPUS_ADMIN, []),
    ],
)
def test_a_tier_stands_in_only_for_the_rungs_below_it(role: Role, stood_in_for: list[Role]) -> None:
    """Notify alerts the next tier up that someone holds when a rung is empty: only a ladder
    tier above the empty rung can be that stand-in (none for the college leader, whose empty
    rung the on-duty line takes), lowest rung first, and it may confirm all of them."""
    rungs = {Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER, Role.COUNSELING_CENTER}
    assert [r for r in roles_stood_in_for(role) if r in rungs] == stood_in_for
    assert set(roles_stood_in_for(role)) <= set(roles_acknowledged_by(role))
    assert not set(roles_stood_in_for(role)) & set(roles_awaiting(role))
