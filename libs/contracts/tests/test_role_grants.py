"""Which grants each role may carry (`shouwang_contracts.scopes.ROLE_GRANTS`), applied where a
token becomes a `Principal`. The audit of 2026-12-06 left it open: the identity provider's
grants were trusted as they came, so a `college` grant on a dorm-room leader (a mapping gone
wide, or compromised) let them look up the names and rooms of a whole college."""

from __future__ import annotations

import logging

import pytest
from shouwang_contracts.auth import (
    Placement,
    Principal,
    ScopeGrant,
    TokenVerifier,
    mint_token,
    principal_from_claims,
)
from shouwang_contracts.scopes import (
    ROLE_GRANTS,
    ROLE_NEEDS,
    ScopeKind,
    lacks_what_it_needs,
    narrow_grants,
)
from shouwang_contracts.vocabulary import Role

SECRET = "a-test-secret-of-at-least-32-bytes-0123456789"
PEER_REPORTERS = [Role.DORM_LEADER, Role.FLOOR_LEADER, Role.CLASS_WELLBEING_OFFICER]
WIDE = ["campus", "college:土木建筑工程学院", "building:8号楼"]


def _principal(role: Role, *scope: str) -> Principal:
    return principal_from_claims(
        {"sub": "2024020001", "role": role.value, "campus_id": "demo", "scope": list(scope)}
    )


@pytest.mark.parametrize("role", PEER_REPORTERS)
def test_a_college_grant_on_a_peer_reporter_is_dropped(role: Role) -> None:
    """A peer reporter holding `college:…` would see every student of the college in the
    lookup; the grant is dropped, and with it every wider one."""
    principal = _principal(role, *WIDE)
    assert principal.scope == ()
    assert not principal.campus_wide
    assert not principal.covers(Placement(college="土木建筑工程学院", building="8号楼"))


def test_a_peer_reporter_keeps_the_grant_of_what_they_report_about() -> None:
    room, floor, klass = "room:8号楼/202", "floor:7号楼/3", "class:建工2401"
    assert [str(g) for g in _principal(Role.DORM_LEADER, room, floor, klass).scope] == [room]
    assert [str(g) for g in _principal(Role.FLOOR_LEADER, room, floor, klass).scope] == [
        room,
        floor,
    ]
    officer = _principal(Role.CLASS_WELLBEING_OFFICER, room, floor, klass)
    assert [str(g) for g in officer.scope] == [klass]


def test_a_token_minted_with_a_grant_its_role_cannot_hold_is_narrowed() -> None:
    """A token signed with the platform's key but carrying more than its role may hold (a
    careless mint, a gateway session made before the table) is narrowed where it is verified."""
    verifier = TokenVerifier(secret=SECRET)
    counselor = verifier.verify(
        mint_token(
            SECRET,
            sub="T1002",
            role=Role.RESIDENCE_COUNSELOR,
            campus_id="demo",
            scope=["campus", "college:医学院", "building:8号楼", "class:建工2401"],
        )
    )
    assert [str(g) for g in counselor.scope] == ["building:8号楼", "class:建工2401"]
    assert not counselor.campus_wide
    leader = verifier.verify(
        mint_token(
            SECRET,
            sub="T4001",
            role=Role.COLLEGE_LEADER,
            campus_id="demo",
            scope=["building:8号楼", "college:土木建筑工程学院", "campus"],
        )
    )
    assert [str(g) for g in leader.scope] == ["college:土木建筑工程学院"]
    assert not leader.covers(Placement(college="医学院", building="8号楼"))
    auditor = verifier.verify(
        mint_token(SECRET, sub="U1", role=Role.AUDITOR, campus_id="demo", scope=["campus"])
    )
    assert auditor.scope == ()
    assert not auditor.campus_wide


def test_a_dropped_grant_is_logged_by_role_and_kind_never_by_person(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="shouwang.grants"):
        _principal(Role.DORM_LEADER, "college:土木建筑工程学院", "college:医学院", "campus")
    dropped = [(r.__dict__["role"], r.__dict__["grant_kind"]) for r in caplog.records]
    assert dropped == [("dorm_leader", "campus"), ("dorm_leader", "college")]
    for record in caplog.records:
        text = repr(record.__dict__)
        assert "2024020001" not in text
        assert "土木" not in text
        assert "医学院" not in text


def test_a_finer_grant_without_a_value_names_nothing_and_is_dropped() -> None:
    kept, dropped = narrow_grants(
        Role.COLLEGE_LEADER, [ScopeGrant.parse("college:"), ScopeGrant.parse("college:医学院")]
    )
    assert [str(g) for g in kept] == ["college:医学院"]
    assert [g.kind for g in dropped] == [ScopeKind.COLLEGE]


def test_every_role_has_its_grants_declared() -> None:
    assert set(ROLE_GRANTS) == set(Role)
    for role in PEER_REPORTERS:
        assert not ROLE_GRANTS[role] & {ScopeKind.CAMPUS, ScopeKind.COLLEGE, ScopeKind.BUILDING}
    assert ScopeKind.CAMPUS not in ROLE_GRANTS[Role.RESIDENCE_COUNSELOR]
    assert ROLE_GRANTS[Role.COLLEGE_LEADER] == {ScopeKind.COLLEGE}
    assert ROLE_GRANTS[Role.PLATFORM_ADMIN] == ROLE_GRANTS[Role.AUDITOR] == frozenset()
    # what a role needs, it may hold
    for role, needed in ROLE_NEEDS.items():
        assert needed <= ROLE_GRANTS[role]


def test_a_college_leader_without_a_college_lacks_what_it_needs() -> None:
    assert lacks_what_it_needs(Role.COLLEGE_LEADER, [ScopeGrant.parse("building:8号楼")])
    assert not lacks_what_it_needs(Role.COLLEGE_LEADER, [ScopeGrant.parse("college:医学院")])
    assert not lacks_what_it_needs(Role.DORM_LEADER, [])
