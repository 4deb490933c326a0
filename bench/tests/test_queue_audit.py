"""The queue-audit bench runs end to end in miniature and prints every figure (never judged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(200)
def test_queue_audit_prints_rows_statements_and_latency_before_and_after(
    postgres_admin_dsn: str,
) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "queue_audit.py"), "--cases", "5", "--refreshes", "3"],
        env={**os.environ, "DATABASE_URL": postgres_admin_dsn},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    figures = {
        m["reader"]: (int(m["rows"]), float(m["inserts"]))
        for m in re.finditer(
            r"^(?P<reader>before|after)\s+(?P<rows>\d+)\s+[\d.]+\s+(?P<inserts>[\d.]+)\s+[\d.]+"
            r"\s+[\d.]+\s+[\d.]+$",
            done.stdout,
            re.MULTILINE,
        )
    }
    # 3 rounds of 3 refreshes of 5 cases: a row per case per refresh before, per tab after.
    assert figures == {"before": (45, 5.0), "after": (15, 1.0)}, done.stdout
    assert "ratio after/before: rows 0.333" in done.stdout
