"""What the acknowledgement page says before and after the alert's deadline (`http_ack._page`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shouwang_notify.adapters.templates import Templates
from shouwang_notify.domain.links import IssuedLink
from shouwang_notify.entrypoints import http_ack
from shouwang_notify.service_layer.acks import LinkView

DEADLINE = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
NOTIFY: Any = SimpleNamespace(templates=Templates(ZoneInfo("Asia/Shanghai"), "https://app/desk"))
VIEW = LinkView(
    IssuedLink(
        link_id="l1",
        campus_id="demo",
        alert_id="alert-1",
        student_ref="stu_x",
        person_ref="per_center",
        role="community_psych_teacher",
        expires_at=DEADLINE + timedelta(hours=12),
        used_at=None,
        severity="severe",
        ack_deadline=DEADLINE,
    ),
    refusal=None,
)


def _page(language: str, now: datetime) -> str:
    response = http_ack._page(NOTIFY, VIEW, language, "/ack/s/ABCDE23456", False, now)  # type: ignore[arg-type]
    assert response.status_code == 200
    return bytes(response.body).decode()


@pytest.mark.parametrize(
    ("language", "passed", "asked"),
    [
        (
            "zh-CN",
            "确认时限 <strong>12月1日 15:00</strong> 已过，这条预警已按规定逐级上报至上一级",
            "请在",
        ),
        (
            "en",
            "The deadline, <strong>01 Dec 15:00</strong>, has passed: the alert was passed on",
            "Confirm by",
        ),
    ],
)
def test_an_ack_page_opened_after_its_deadline_says_it_was_passed_on(
    language: str, passed: str, asked: str
) -> None:
    """A link opened late once still read "confirm by <a time gone>": the reader could not
    tell the alert had already gone up a rung. Late, the page says so, and still offers the
    button (the link confirms while it lives and nobody else has acknowledged)."""
    late = _page(language, DEADLINE + timedelta(minutes=1))
    assert passed in late
    assert asked not in late
    assert '<form method="post" action="/ack/s/ABCDE23456">' in late
    in_time = _page(language, DEADLINE - timedelta(minutes=1))
    assert asked in in_time
    assert passed not in in_time
