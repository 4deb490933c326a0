"""Time rules and link rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from shouwang_notify.domain.contacts import QuietHours
from shouwang_notify.domain.links import (
    SHORT_CODE_ALPHABET,
    IssuedLink,
    LinkClaims,
    LinkRefusal,
    check_link,
    new_short_code,
    normalise_short_code,
)
from shouwang_notify.domain.schedule import RetryPolicy, next_digest_at, parse_quiet_hours

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    night = QuietHours(time(23), time(7))
    assert night.contains(time(23, 30))
    assert night.contains(time(6, 59))
    assert not night.contains(time(7))
    assert not night.contains(time(12))
    noon = QuietHours(time(12), time(14))
    assert noon.contains(time(13))
    assert not noon.contains(time(11))
    assert not QuietHours(time(8), time(8)).contains(time(8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23:00-07:00", QuietHours(time(23), time(7))),
        ("22：00～7：30", QuietHours(time(22), time(7, 30))),
        ("22:00至24:00", QuietHours(time(22), time(0))),
        ("", None),
    ],
)
def test_quiet_hours_as_colleges_write_them(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


def test_digest_goes_out_at_the_campus_hour() -> None:
    at = next_digest_at(NOW, 8, SHANGHAI)  # 09:00 in Shanghai: tomorrow's 08:00
    assert at.astimezone(SHANGHAI).hour == 8
    assert timedelta(hours=22) < at - NOW < timedelta(hours=24)
    assert next_digest_at(NOW, 10, SHANGHAI) - NOW == timedelta(hours=1)


def test_retry_backs_off_exponentially_with_jitter_up_to_a_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=30), max_attempts=4)
    assert policy.delay(1, lambda: 0.0) == timedelta(seconds=1)
    assert policy.delay(1, lambda: 0.999) < timedelta(seconds=2)
    assert policy.delay(3, lambda: 0.0) == timedelta(seconds=4)
    assert policy.delay(10, lambda: 0.999) <= timedelta(seconds=30)
    assert not policy.exhausted(3)
    assert policy.exhausted(4)


def test_short_codes_are_unambiguous_and_forgiving_to_type() -> None:
    code = new_short_code()
    assert len(code) == 10
    assert set(code) <= set(SHORT_CODE_ALPHABET)
    assert normalise_short_code(f" {code[:5].lower()}-{code[5:]} ") == code


ISSUED = IssuedLink(
    link_id="l1",
    campus_id="demo",
    alert_id="a1",
    student_ref="stu_x",
    person_ref="per_a",
    role="counseling_center",
    expires_at=NOW + timedelta(hours=2),
    used_at=None,
)
CLAIMS = LinkClaims("l1", "a1", "per_a", "demo", NOW + timedelta(hours=2))


def test_a_valid_link_passes() -> None:
    assert check_link(CLAIMS, ISSUED, NOW) is None
    assert check_link(CLAIMS, ISSUED, NOW, viewer_ref="per_a") is None


def test_refusals() -> None:
    later = NOW + timedelta(hours=3)
    assert check_link(None, ISSUED, NOW) is LinkRefusal.FORGED
    assert check_link(CLAIMS, None, NOW) is LinkRefusal.FORGED
    other_alert = LinkClaims("l1", "a2", "per_a", "demo", CLAIMS.expires_at)
    assert check_link(other_alert, ISSUED, NOW) is LinkRefusal.FORGED
    assert check_link(CLAIMS, ISSUED, later) is LinkRefusal.EXPIRED
    assert check_link(CLAIMS, replace(ISSUED, used_at=NOW), NOW) is LinkRefusal.USED
    assert check_link(CLAIMS, ISSUED, NOW, viewer_ref="per_b") is LinkRefusal.OTHER_PERSON
    assert (
        check_link(CLAIMS, replace(ISSUED, alert_closed_at=NOW), NOW)
        is LinkRefusal.ALREADY_ACKNOWLEDGED
    )
