"""The shared person limits' bench runs end to end in miniature and prints every figure
(never judged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(200)
def test_person_limits_bench_prints_both_variants_and_their_ratio(
    postgres_admin_dsn: str,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "person_limits.py"),
            "--cases",
            "3",
            "--requests",
            "20",
            "--clients",
            "2",
            "--rounds",
            "1",
        ],
        env={**os.environ, "DATABASE_URL": postgres_admin_dsn},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = re.findall(r"^(per-process|shared)\s+\d+\s+[\d.]+\s+[\d.]+$", done.stdout, re.MULTILINE)
    assert rows == ["per-process", "shared"], done.stdout
    assert re.search(r"ratio shared/per-process: reads/s [\d.]+, p50 latency [\d.]+", done.stdout)
    assert "unanswered (fell back to the local limit): " in done.stdout
