"""Who reads which campus and college."""

from __future__ import annotations

import pytest
from shouwang_contracts.auth import Principal, ScopeGrant
from shouwang_contracts.vocabulary import Role
from shouwang_stats.domain.scope import Scope
from shouwang_stats.service_layer.access import Refused, scope_for


def principal(role: Role, campus: str = "a", scope: tuple[str, ...] = ()) -> Principal:
    return Principal(
        sub="x", role=role, campus_id=campus, scope=tuple(ScopeGrant.parse(s) for s in scope)
    )


@pytest.mark.parametrize(
    "role",
    [
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.CAMPUS_ADMIN,
    ],
)
def test_staff_of_tier_four_and_up_and_campus_admins_read_their_own_campus(role: Role) -> None:
    assert scope_for(principal(role), None, None) == Scope(("a",), None)
    assert scope_for(principal(role), "a", "医学院") == Scope(("a",), ("医学院",))
    with pytest.raises(Refused) as refused:
        scope_for(principal(role), "b", None)
    assert refused.value.code == "campus_forbidden"


def test_a_college_leader_reads_the_colleges_granted_and_no_other() -> None:
    leader = principal(Role.COLLEGE_LEADER, scope=("college:医学院", "college:信息工程学院"))
    assert scope_for(leader, None, None) == Scope(("a",), ("信息工程学院", "医学院"))
    assert scope_for(leader, None, "医学院") == Scope(("a",), ("医学院",))
    with pytest.raises(Refused, match="college"):
        scope_for(leader, None, "土木建筑工程学院")
    with pytest.raises(Refused) as refused:
        scope_for(principal(Role.COLLEGE_LEADER, scope=("building:8号楼",)), None, None)
    assert refused.value.code == "no_college_granted"
    # Said to a college leader, not to a developer: what is missing and whom to ask.
    assert "令牌" not in refused.value.detail_zh
    assert "校区管理员" in refused.value.detail_zh
    assert "token" not in refused.value.detail_en


def test_a_platform_admin_reads_every_campus_or_the_one_named() -> None:
    admin = principal(Role.PLATFORM_ADMIN, campus="platform")
    assert scope_for(admin, None, None) == Scope(None, None)
    assert scope_for(admin, "b", None) == Scope(("b",), None)


@pytest.mark.parametrize(
    "role", [Role.DORM_LEADER, Role.FLOOR_LEADER, Role.CLASS_WELLBEING_OFFICER, Role.AUDITOR]
)
def test_students_and_auditors_read_no_outcome_figures(role: Role) -> None:
    with pytest.raises(Refused) as refused:
        scope_for(principal(role), None, None)
    assert refused.value.code == "role_forbidden"
