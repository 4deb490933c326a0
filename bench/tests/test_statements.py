"""The pipeline bench's statement count names the service of each statement and divides by
the reports completed."""

from __future__ import annotations

import pytest
from statements import Statement, print_table, service_of  # bench/ is on sys.path (conftest.py)


def test_a_service_database_names_its_service_and_others_are_left_out() -> None:
    assert service_of("t_casework_1a2b3c4d") == "casework"
    assert service_of("t_notify_00ff00ff") == "notify"
    assert service_of("postgres") is None
    assert service_of("t_casework_extra_1a2b3c4d") is None


def test_calls_and_time_are_divided_by_the_reports_completed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_table(
        [
            Statement("casework", "SELECT 1", calls=300, total_ms=30.0),
            Statement("casework", "COMMIT", calls=100, total_ms=1.0),
            Statement("intake", "INSERT INTO x VALUES ($1)", calls=50, total_ms=5.0),
        ],
        reports=100,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == ["casework", "2", "4.00", "0.310"]
    assert lines[3].split() == ["intake", "1", "0.50", "0.050"]
    assert lines[4].split() == ["all", "3", "4.50", "0.360"]
    assert any(line.split()[:3] == ["casework", "3.00", "0.100"] for line in lines)
