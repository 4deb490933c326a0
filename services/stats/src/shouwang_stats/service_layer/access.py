"""Who may read which figures: the caller's role decides the campuses and colleges.

- tiers 4–6 (residence counselors, community psychology teachers, the counselling center)
  and campus admins read their own campus;
- college leaders read the colleges their token grants (`college:<name>`), on their campus;
- platform admins read every campus, or the one they name;
- students (tiers 1–3) and auditors read no outcome figures.

Every figure is an aggregate with small cells suppressed, whoever reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shouwang_contracts.auth import Principal, ScopeKind
from shouwang_contracts.vocabulary import Role

from ..domain.scope import Scope

#: The roles that read outcome figures at all.
READERS: frozenset[Role] = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
        Role.CAMPUS_ADMIN,
        Role.PLATFORM_ADMIN,
    }
)


@dataclass(frozen=True, slots=True)
class Refused(Exception):
    """The caller may not read what they asked for; `code` says why."""

    code: str
    detail_zh: str
    detail_en: str


def scope_for(principal: Principal, campus_id: str | None, college: str | None) -> Scope:
    """The campuses and colleges `principal` reads when asking for `campus_id` / `college`.

    Raises Refused for another campus, a college outside a leader's grants, or a college
    leader whose token grants no college.
    """
    if principal.role not in READERS:
        raise Refused(
            "role_forbidden",
            f"{principal.role.label()}无权查看成效统计",
            f"role {principal.role.value} may not read outcome figures",
        )
    colleges: tuple[str, ...] | None = (college,) if college else None
    if principal.role is Role.PLATFORM_ADMIN:
        return Scope(campuses=(campus_id,) if campus_id else None, colleges=colleges)
    if campus_id and campus_id != principal.campus_id:
        raise Refused(
            "campus_forbidden",
            "只能查看本校区的统计",
            "you may read the figures of your own campus only",
        )
    if principal.role is Role.COLLEGE_LEADER:
        granted = tuple(
            sorted(g.value for g in principal.scope if g.kind is ScopeKind.COLLEGE and g.value)
        )
        if not granted:
            raise Refused(
                "no_college_granted",
                "您的账号尚未关联所负责的学院，暂时无法查看学院统计；"
                "请联系校区管理员为您的账号配置学院",
                "your account is linked to no college yet, so there are no college figures to "
                "show; ask your campus administrator to assign your college",
            )
        if college and college not in granted:
            raise Refused(
                "college_forbidden",
                "只能查看您所负责学院的统计",
                "you may read the figures of your own college(s) only",
            )
        colleges = colleges or granted
    return Scope(campuses=(principal.campus_id,), colleges=colleges)


def reads_live(principal: Principal) -> bool:
    """Whether `principal` reads the year in progress as it stands today, not as of the end of
    its last complete month (`periods.as_published`): the counseling center, which already
    reads every case of its campus in casework, so that a total asked daily tells it nothing
    it cannot read there. Everyone else reads figures of people whose cases they do not all
    see (other buildings, other colleges, no case at all) and waits for the month to close."""
    return principal.role is Role.COUNSELING_CENTER


def may_compare_campuses(principal: Principal) -> bool:
    """Only platform admins see figures broken down by campus."""
    return principal.role is Role.PLATFORM_ADMIN
