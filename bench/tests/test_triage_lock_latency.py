"""The triage lock-latency bench runs end to end in miniature and prints every figure (never
judged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(200)
def test_triage_lock_latency_prints_both_modes_and_their_ratio(postgres_admin_dsn: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "triage_lock_latency.py"),
            "--reports",
            "3",
            "--rounds",
            "2",
            "--census",
            "5",
        ],
        env={**os.environ, "DATABASE_URL": postgres_admin_dsn},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    modes = re.findall(
        r"^\s+(baseline|locked)\s+report p50\s+[\d.]+ ms\s+p99\s+[\d.]+ ms\s+census batch median",
        done.stdout,
        re.MULTILINE,
    )
    assert modes == ["baseline", "locked"], done.stdout
    assert re.search(r"locked / baseline: report p50 [\d.]+x", done.stdout), done.stdout
