"""The queue-audit bench runs end to end in miniature and prints every figure (never judged)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


@pytest.mark.timeout(200)
def test_queue_audit_prints_rows_statements_and_latency_before_and_after(
    run_bench: Callable[..., str],
) -> None:
    out = run_bench("queue_audit.py", "--cases", "5", "--refreshes", "3")
    figures = {
        m["reader"]: (int(m["rows"]), float(m["inserts"]))
        for m in re.finditer(
            r"^(?P<reader>before|after)\s+(?P<rows>\d+)\s+[\d.]+\s+(?P<inserts>[\d.]+)\s+[\d.]+"
            r"\s+[\d.]+\s+[\d.]+$",
            out,
            re.MULTILINE,
        )
    }
    # 3 rounds of 3 refreshes of 5 cases: a row per case per refresh before, per tab after.
    assert figures == {"before": (45, 5.0), "after": (15, 1.0)}, out
    assert "ratio after/before: rows 0.333" in out
