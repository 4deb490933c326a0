"""Public events from case changes: the right types, pseudonymous, no free text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from shouwang_casework.domain.cases import Case
from shouwang_casework.domain.guards import Actor
from shouwang_casework.domain.transitions import CaseFacts, TransitionRequest
from shouwang_casework.entrypoints.consumers import decode_alert
from shouwang_casework.service_layer.events import payloads_for
from shouwang_contracts.events.casework import CaseOutcome, CaseState
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.vocabulary import Role, Severity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEACHER = Actor("per_teacher", Role.COMMUNITY_PSYCH_TEACHER, in_scope=True)


def test_changes_become_public_events_without_free_text() -> None:
    case = Case.open(
        case_id="c1",
        campus_id="campus-a",
        student_ref="stu_x",
        severity=Severity.MILD,
        owner_role=Role.RESIDENCE_COUNSELOR,
        owner_ref="per_a",
        at=T0,
        report_ids=["r1"],
    )
    case.attach(assessment_id="a2", severity=Severity.SEVERE, report_ids=["r2"], at=T0)
    case.assign(owner_ref="per_c", owner_role=Role.COUNSELING_CENTER, at=T0)
    steps = [
        TransitionRequest(CaseState.INTERVENTION, action_taken="秘密：谈话内容"),
        TransitionRequest(CaseState.FOLLOW_UP),
        TransitionRequest(CaseState.CLOSED, outcome=CaseOutcome.STABLE, reason="秘密：结案说明"),
    ]
    for step in steps:
        case.transition(TEACHER, step, T0, CaseFacts(completed_follow_ups=1))
    payloads = [p for change in case.changes for p in payloads_for(case, change)]
    assert [type(p).__name__ for p in payloads] == [
        "CaseOpened",
        "CaseSeverityChanged",
        "CaseAssigned",
        "CaseTransitioned",
        "CaseTransitioned",
        "CaseTransitioned",
        "CaseClosed",
    ]
    opened = payloads[0]
    assert (opened.owner_ref, opened.report_ids) == ("per_a", ["r1"])  # type: ignore[attr-defined]
    assert payloads[1].report_ids == ["r2"]  # type: ignore[attr-defined]
    dumped = json.dumps([p.model_dump(mode="json") for p in payloads], ensure_ascii=False)
    assert "秘密" not in dumped


def test_an_owner_taken_off_leaves_the_case_unowned_on_record() -> None:
    case = Case.open(
        case_id="c1",
        campus_id="campus-a",
        student_ref="stu_x",
        severity=Severity.MODERATE,
        owner_role=Role.RESIDENCE_COUNSELOR,
        owner_ref="per_a",
        at=T0,
    )
    case.changes.clear()
    assert case.release(at=T0, reason="owner_off_roster")
    assert (case.owner_ref, case.owner_role) == (None, Role.RESIDENCE_COUNSELOR)
    assert not case.release(at=T0, reason="owner_off_roster")  # nobody left to take it from
    (cleared,) = case.changes
    assert (cleared.kind, cleared.actor_ref, cleared.detail) == (
        "owner_cleared",
        "system:casework",
        {
            "owner_role": "residence_counselor",
            "previous_owner_ref": "per_a",
            "reason": "owner_off_roster",
        },
    )
    (event,) = payloads_for(case, cleared)
    assert type(event).__name__ == "CaseOwnerCleared"
    assert (event.owner_role, event.previous_owner_ref, event.reason) == (  # type: ignore[attr-defined]
        Role.RESIDENCE_COUNSELOR,
        "per_a",
        "owner_off_roster",
    )
    case.assign(owner_ref="per_b", owner_role=Role.RESIDENCE_COUNSELOR, at=T0, reason="r")
    assigned = payloads_for(case, case.changes[-1])
    assert [(p.owner_ref, p.previous_owner_ref) for p in assigned] == [("per_b", None)]  # type: ignore[attr-defined]


def test_the_alerts_topic_decodes_by_type_and_refuses_strangers() -> None:
    with pytest.raises(PoisonEvent, match="JSON"):
        decode_alert(b"[1, 2")
    with pytest.raises(PoisonEvent, match="unexpected event type"):
        decode_alert(b'{"type": "shouwang.case.opened"}')
    with pytest.raises(PoisonEvent, match="not a valid"):
        decode_alert(b'{"type": "shouwang.alert.raised"}')
