"""The roster's rules: what an import changes, who is responsible, scope words in step."""

from __future__ import annotations

import itertools

import pytest
from shouwang_casework.domain.roster import (
    ASSIGNABLE_ROLES,
    DIRECTORY_ROLES,
    SCOPE_NARROWEST_FIRST,
    Assignment,
    KnownStudent,
    Student,
    StudentPlacement,
    affected_by,
    normalise_floor,
    parse_scope_value,
    plan_assignment_changes,
    plan_student_changes,
    responsible_staff,
    scopes_without_students,
)
from shouwang_contracts.auth import Placement, ScopeGrant, ScopeKind
from shouwang_contracts.vocabulary import Role

A = Student(
    "1", "甲", college="医学院", class_name="护理2401", building="7号楼", floor="3", room="303"
)
B = Student(
    "2", "乙", college="医学院", class_name="护理2401", building="8号楼", floor="2", room="202"
)


def test_role_and_scope_ids_are_the_contracts_ones() -> None:
    assert ASSIGNABLE_ROLES.issubset({r.value for r in Role})
    assert Role.PLATFORM_ADMIN.value not in ASSIGNABLE_ROLES
    assert set(SCOPE_NARROWEST_FIRST) == {k.value for k in ScopeKind}
    assert list(SCOPE_NARROWEST_FIRST) == [k.value for k in reversed(ScopeKind)]


VALUES = ["", "医学院", "护理2401", "7号楼", "7号楼/3", "7号楼/303", "8号楼/3"]


@pytest.mark.parametrize(
    ("kind", "value"), list(itertools.product([k.value for k in ScopeKind], VALUES))
)
def test_coverage_agrees_with_contracts_placement(kind: str, value: str) -> None:
    ours = A.placement
    theirs = Placement(ours.college, ours.class_name, ours.building, ours.floor, ours.room)
    assert ours.covered_by(kind, value) == theirs.matches(
        ScopeGrant(kind=ScopeKind(kind), value=value)
    )


def test_reimporting_the_same_roster_changes_nothing() -> None:
    known = {s.student_no: KnownStudent(s, True) for s in (A, B)}
    changes = plan_student_changes(known, [A, B], snapshot=True)

    assert changes.counts() == {
        "created": 0,
        "updated": 0,
        "reactivated": 0,
        "deactivated": 0,
        "unchanged": 2,
    }
    assert changes.directory_changes == []


def test_a_snapshot_deactivates_who_left_and_an_upsert_does_not() -> None:
    moved = Student(
        "2", "乙", college="医学院", class_name="护理2401", building="8号楼", floor="4", room="404"
    )
    known = {s.student_no: KnownStudent(s, True) for s in (A, B)}

    snapshot = plan_student_changes(known, [moved], snapshot=True)
    upsert = plan_student_changes(known, [moved], snapshot=False)

    assert snapshot.directory_changes == [(moved, True), (A, False)]
    assert upsert.directory_changes == [(moved, True)]


def test_a_student_back_on_the_roster_is_reactivated() -> None:
    changes = plan_student_changes({"1": KnownStudent(A, False)}, [A], snapshot=True)
    assert changes.reactivated == [A]


def test_assignment_changes_of_a_snapshot() -> None:
    keep = Assignment("p1", "residence_counselor", "building", "7号楼")
    gone = Assignment("p2", "residence_counselor", "building", "8号楼")
    new = Assignment("p3", "residence_counselor", "building", "8号楼")

    changes = plan_assignment_changes({keep, gone}, [keep, new], snapshot=True)

    assert changes.added == {new}
    assert changes.removed == {gone}
    assert changes.unchanged == 1


def test_responsible_staff_in_ladder_order_narrowest_first() -> None:
    assignments = [
        Assignment("center", "counseling_center", "campus", ""),
        Assignment("building", "residence_counselor", "building", "7号楼"),
        Assignment("floor", "residence_counselor", "floor", "7号楼/3"),
        Assignment("elsewhere", "residence_counselor", "building", "8号楼"),
        Assignment("leader", "dorm_leader", "room", "7号楼/303"),
        Assignment("admin", "campus_admin", "campus", ""),
    ]

    assert responsible_staff(A.placement, assignments) == [
        ("dorm_leader", "leader"),
        ("residence_counselor", "floor"),
        ("residence_counselor", "building"),
        ("counseling_center", "center"),
    ]
    assert "campus_admin" not in DIRECTORY_ROLES


def test_affected_students_of_changed_assignments() -> None:
    placements = {"a": A.placement, "b": B.placement, "none": StudentPlacement()}
    changed = [Assignment("p", "residence_counselor", "room", "8号楼/202")]

    assert affected_by(placements, changed) == {"b"}
    assert affected_by(placements, [Assignment("p", "auditor", "campus", "")]) == set()


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("room", "8号楼202", "8号楼/202"),
        ("room", "8号楼/202", "8号楼/202"),
        ("room", "8号楼 202室", "8号楼/202"),
        ("room", "A-202", "A/202"),
        ("floor", "7号楼3层", "7号楼/3"),
        ("floor", "7号楼/3", "7号楼/3"),
        ("floor", "7号楼 第3层", "7号楼/3"),
        ("floor", "7号楼B1", "7号楼/B1"),
        ("building", "8 号楼", "8号楼"),
        ("campus", "主校区", ""),
        ("room", "八号楼", None),
        ("floor", "3层", None),
    ],
)
def test_scope_values_in_export_words(kind: str, text: str, value: str | None) -> None:
    assert parse_scope_value(kind, text) == value


def test_floors() -> None:
    assert [normalise_floor(t) for t in ("2", "2层", "第2层", "2F", "02", "b1", "二楼")] == [
        "2",
        "2",
        "2",
        "2",
        "2",
        "B1",
        None,
    ]


def test_a_corrected_name_is_saved_but_publishes_no_directory_entry() -> None:
    renamed = Student(
        "1",
        "甲改",
        college="医学院",
        class_name="护理2401",
        building="7号楼",
        floor="3",
        room="303",
    )
    changes = plan_student_changes({"1": KnownStudent(A, True)}, [renamed], snapshot=False)

    assert changes.to_save == [renamed]
    assert changes.directory_changes == []


PLACEMENTS = [
    A.placement,
    B.placement,
    StudentPlacement(),
    StudentPlacement(college="医学院"),
    StudentPlacement(building="7号楼", floor="3"),
]
ASSIGNMENTS = [
    Assignment(f"p{i}", role, kind, value)
    for i, (role, (kind, value)) in enumerate(
        itertools.product(
            ["dorm_leader", "residence_counselor", "college_leader", "auditor"],
            [
                ("campus", ""),
                ("campus", "主校区"),
                *(
                    (k, v)
                    for k in ("college", "class", "building", "floor", "room")
                    for v in VALUES
                ),
            ],
        )
    )
]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_index_finds_exactly_who_a_scan_finds(placement: StudentPlacement) -> None:
    scanned = {
        (a.role, a.holder)
        for a in ASSIGNMENTS
        if a.role in DIRECTORY_ROLES and placement.covered_by(a.scope_kind, a.scope_value)
    }
    assert set(responsible_staff(placement, ASSIGNMENTS)) == scanned
    for a in ASSIGNMENTS:
        assert (a.holder in affected_by({a.holder: placement}, [a])) == (
            a.role in DIRECTORY_ROLES and placement.covered_by(a.scope_kind, a.scope_value)
        )


def test_scopes_nobody_is_placed_in_are_named() -> None:
    assignments = [
        Assignment("p1", "residence_counselor", "building", "8栋"),
        Assignment("p2", "residence_counselor", "building", "8号楼"),
        Assignment("p3", "counseling_center", "campus", "主校区"),
        Assignment("p4", "dorm_leader", "room", "7号楼/303"),
    ]
    assert scopes_without_students([A.placement, B.placement], assignments) == [("building", "8栋")]
