"""Request validation that needs no broker: what a phone may send and what it gets back."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError
from shouwang_intake.service_layer.commands import ReportIn, ScreeningIn


def _report(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "campus_id": "demo",
        "student_no": "2024020001",
        "signals": ["persistent_low_mood"],
        "observed_at": "2026-11-28T21:00:00+08:00",
    }
    body.update(changes)
    return body


def test_a_plain_report_validates() -> None:
    report = ReportIn.model_validate(_report(note="最近总是一个人", location="8号楼202"))
    assert report.observed_at == datetime.fromisoformat("2026-11-28T21:00:00+08:00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signals": []}, "signals"),
        ({"signals": ["not_a_signal"]}, "signals"),
        ({"signals": ["hopelessness", "hopelessness"]}, "signals"),
        ({"student_no": "2024 0200"}, "student_no"),
        ({"note": "x" * 2001}, "note"),
        ({"extra": 1}, "extra"),
        ({"observed_at": "yesterday"}, "observed_at"),
    ],
)
def test_bad_reports_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ReportIn.model_validate(_report(**changes))
    assert any(field in ".".join(map(str, e["loc"])) for e in caught.value.errors())


def test_screenings_are_checked_against_their_instrument() -> None:
    body = {"campus_id": "demo", "student_no": "1", "administered_at": "2026-09-10T09:00:00+08:00"}
    ScreeningIn.model_validate({**body, "instrument": "gad7", "items": [0, 1, 2, 3, 0, 1, 2]})
    with pytest.raises(ValidationError, match="needs 60 items"):
        ScreeningIn.model_validate({**body, "instrument": "upi", "items": [1] * 59})
    with pytest.raises(ValidationError, match=r"outside 0\.\.3"):
        ScreeningIn.model_validate({**body, "instrument": "phq9", "items": [0] * 8 + [4]})
