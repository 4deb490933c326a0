"""Who may sign in locally: accounts, the rules their fields follow, and the demo campus's set.

Local accounts are for pilots: each names the person by the number the roster knows them by
(`sub`: 工号 for staff, 学号 for students of tiers 1-3), so that the services' scope checks
(roster assignments looked up by that number's pseudonym) see the same person. Production
signs people in through the college's identity provider (OIDC) instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shouwang_contracts.scopes import ScopeGrant, lacks_what_it_needs, narrow_grants
from shouwang_contracts.vocabulary import Role

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SUB = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_PASSWORD_CHARS = 10
DEMO_CAMPUS = "demo"


class AccountRefused(ValueError):
    """An account that breaks a rule: says which field, in zh-CN and English."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field = field
        self.zh = zh
        self.en = en


@dataclass(frozen=True, slots=True)
class Account:
    """A local account as stored (the password only as its hash)."""

    campus_id: str
    username: str
    password_hash: str
    sub: str
    role: Role
    scope: tuple[str, ...] = ()
    display_name: str = ""
    disabled: bool = False


def check_account_fields(
    *, campus_id: str, username: str, sub: str, role: Role, scope: tuple[str, ...]
) -> None:
    """Refuse what would not work as a sign-in or as the token the services read: a grant
    the role may not hold (`ROLE_GRANTS`), or a role without the grant it needs, too."""
    if not campus_id or len(campus_id) > 64:
        raise AccountRefused("campus_id", "校区标识须为 1-64 个字符", "campus_id: 1-64 characters")
    if not USERNAME.match(username):
        raise AccountRefused(
            "username",
            "用户名只能包含字母、数字和 _ . @ -，最长 64 个字符",
            "username: letters, digits and _ . @ - only, at most 64",
        )
    if not SUB.match(sub):
        raise AccountRefused(
            "sub", "工号/学号只能包含字母、数字、_ 和 -", "sub: letters, digits, _ and - only"
        )
    grants = []
    for grant in scope:
        try:
            grants.append(ScopeGrant.parse(grant))
        except ValueError as exc:
            raise AccountRefused(
                "scope", f"范围“{grant}”无法识别", f"scope {grant!r} is not a grant"
            ) from exc
        if narrow_grants(role, grants[-1:])[1]:
            raise AccountRefused(
                "scope",
                f"{role.label()}不能持有范围“{grant}”",
                f"a {role.label('en').lower()} may not hold the grant {grant!r}",
            )
    if lacks_what_it_needs(role, grants):
        raise AccountRefused(
            "scope",
            f"{role.label()}须关联所负责的范围（如 college:学院名称）",
            f"a {role.label('en').lower()} needs a grant of their scope (e.g. college:<name>)",
        )


def check_password(password: str) -> None:
    """A pilot's passwords: long enough to resist guessing at the rate limit's pace."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountRefused(
            "password",
            f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符",
            f"password: at least {MIN_PASSWORD_CHARS} characters",
        )


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One account of the demo campus: a person of the sample roster in one role."""

    username: str
    role: Role
    sub: str
    display_name: str
    scope: tuple[str, ...] = ()


# The people of samples/roster_staff.csv, one per role; the roster gives each their scope
# (the dorm leader's room 8号楼/202, the residence counselor's 8号楼, ...). Roles the roster
# does not hold (campus admin, auditor, platform admin) get numbers of their own. Stats reads
# a college leader's colleges from the token alone, so the leader's grant is spelled out.
DEMO_LEADER_COLLEGE = "土木建筑工程学院"
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("dorm", Role.DORM_LEADER, "2024020001", "测试学生01"),
    DemoAccount("floor", Role.FLOOR_LEADER, "2024030002", "测试学生02"),
    DemoAccount("officer", Role.CLASS_WELLBEING_OFFICER, "2024010003", "测试学生03"),
    DemoAccount("counselor", Role.RESIDENCE_COUNSELOR, "T1002", "测试辅导员乙"),
    DemoAccount("teacher", Role.COMMUNITY_PSYCH_TEACHER, "T2001", "测试心理教师甲"),
    DemoAccount("center", Role.COUNSELING_CENTER, "T3001", "测试咨询中心甲"),
    DemoAccount(
        "leader",
        Role.COLLEGE_LEADER,
        "T4001",
        "测试院领导甲",
        scope=(f"college:{DEMO_LEADER_COLLEGE}",),
    ),
    DemoAccount("admin", Role.CAMPUS_ADMIN, "A0001", "测试校区管理员"),
    DemoAccount("auditor", Role.AUDITOR, "U0001", "测试审计员"),
    DemoAccount("platform", Role.PLATFORM_ADMIN, "P0001", "测试平台管理员"),
)
