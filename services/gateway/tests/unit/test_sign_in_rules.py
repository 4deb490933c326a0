"""The gateway's rules without I/O: throttling windows, where a sign-in may return to,
sessions' lifetimes and CSRF tokens, account fields, password hashing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_gateway.adapters.passwords import Passwords
from shouwang_gateway.domain.accounts import (
    DEMO_ACCOUNTS,
    AccountRefused,
    check_account_fields,
    check_password,
)
from shouwang_gateway.domain.navigation import safe_return_to
from shouwang_gateway.domain.sessions import Identity, Session, SessionPolicy
from shouwang_gateway.domain.throttle import Limit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[4] / "samples"


def test_a_key_under_its_limit_may_try_again() -> None:
    limit = Limit(3, timedelta(minutes=15))
    assert limit.retry_after([NOW - timedelta(minutes=1)] * 2, NOW) is None


def test_a_key_at_its_limit_waits_until_the_oldest_counted_failure_leaves_the_window() -> None:
    limit = Limit(3, timedelta(minutes=15))
    failures = [NOW - timedelta(minutes=m) for m in (10, 5, 1)]
    assert limit.retry_after(failures, NOW) == 5 * 60


def test_failures_outside_the_window_do_not_count() -> None:
    limit = Limit(2, timedelta(minutes=15))
    assert limit.retry_after([NOW - timedelta(minutes=20)] * 5, NOW) is None


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/phish",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/desk//evil",
        "desk/queue",
        "",
        None,
    ],
)
def test_open_redirect_after_sign_in_is_refused(target: str | None) -> None:
    assert safe_return_to(target) == "/"


@pytest.mark.parametrize("target", ["/desk/queue", "/report?from=sso", "/desk/cases/abc#notes"])
def test_a_path_of_this_site_is_kept_as_where_to_return(target: str) -> None:
    assert safe_return_to(target) == target


def _session(last_seen: datetime, expires: datetime) -> Session:
    return Session(
        id_hash=b"x" * 32,
        identity=Identity(sub="T1002", role=Role.RESIDENCE_COUNSELOR, campus_id="demo"),
        method="local",
        csrf_token="token-123",
        created_at=NOW - timedelta(hours=1),
        last_seen_at=last_seen,
        expires_at=expires,
    )


def test_a_session_ends_when_idle_or_past_its_lifetime() -> None:
    policy = SessionPolicy(lifetime=timedelta(hours=12), idle=timedelta(minutes=30))
    assert _session(NOW - timedelta(minutes=5), NOW + timedelta(hours=1)).is_live(NOW, policy)
    assert not _session(NOW - timedelta(minutes=31), NOW + timedelta(hours=1)).is_live(NOW, policy)
    assert not _session(NOW, NOW - timedelta(seconds=1)).is_live(NOW, policy)


def test_csrf_token_must_match_exactly() -> None:
    session = _session(NOW, NOW + timedelta(hours=1))
    assert session.csrf_matches("token-123")
    assert not session.csrf_matches("token-12")
    assert not session.csrf_matches(None)


def test_account_fields_and_passwords_are_checked() -> None:
    dorm = Role.DORM_LEADER
    check_account_fields(
        campus_id="demo", username="dorm", sub="2024020001", role=dorm, scope=("room:8号楼/202",)
    )
    with pytest.raises(AccountRefused) as refused:
        check_account_fields(campus_id="demo", username="a b", sub="x", role=dorm, scope=())
    assert refused.value.field == "username"
    with pytest.raises(AccountRefused):
        check_account_fields(
            campus_id="demo", username="a", sub="x", role=dorm, scope=("planet:mars",)
        )
    with pytest.raises(AccountRefused):
        check_password("short")


def test_a_local_account_cannot_be_given_a_grant_its_role_may_not_hold() -> None:
    """A pilot's administrator typing `college:…` for a dorm-room leader would open the
    college's names and rooms to them: the account is refused, naming the grant."""
    with pytest.raises(AccountRefused) as refused:
        check_account_fields(
            campus_id="demo",
            username="dorm",
            sub="2024020001",
            role=Role.DORM_LEADER,
            scope=("room:8号楼/202", "college:土木建筑工程学院"),
        )
    assert refused.value.field == "scope"
    assert refused.value.zh == "寝室长不能持有范围“college:土木建筑工程学院”"
    with pytest.raises(AccountRefused) as refused:
        check_account_fields(
            campus_id="demo", username="lead", sub="T4001", role=Role.COLLEGE_LEADER, scope=()
        )
    assert "须关联所负责的范围" in refused.value.zh


def test_the_demo_campus_has_one_account_per_role() -> None:
    assert sorted(a.role for a in DEMO_ACCOUNTS) == sorted(Role)
    assert len({a.username for a in DEMO_ACCOUNTS}) == len(DEMO_ACCOUNTS)


def test_the_demo_college_leader_holds_the_college_the_roster_gives_them() -> None:
    """Stats reads a college leader's colleges from the token: without the grant the demo's
    leader signed in to an outcomes page that said only "令牌未授予任何学院"."""
    roster = SAMPLES / "roster_staff.csv"
    rows = list(csv.DictReader(io.StringIO(roster.read_text("utf-8-sig"))))
    leader = next(a for a in DEMO_ACCOUNTS if a.role is Role.COLLEGE_LEADER)
    held = next(r for r in rows if r["工号/学号"] == leader.sub)
    assert held["范围类型"] == "学院"
    assert leader.scope == (f"college:{held['范围']}",)
    check_account_fields(
        campus_id="demo",
        username=leader.username,
        sub=leader.sub,
        role=leader.role,
        scope=leader.scope,
    )


def test_passwords_are_argon2id_and_unknown_accounts_verify_against_a_decoy() -> None:
    passwords = Passwords()
    hashed = passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify(hashed, "correct horse battery")
    assert not passwords.verify(hashed, "wrong")
    assert not passwords.verify(None, "decoy-password-never-used")
