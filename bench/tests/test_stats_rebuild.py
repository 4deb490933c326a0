"""The stats rebuild bench runs end to end in miniature and prints every figure (never judged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_stats_rebuild_prints_both_rates_the_ratio_and_the_memory(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "stats_rebuild.py"), "--events", "1500", "--rounds", "1"],
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "DATABASE_URL": postgres_admin_dsn,
        },
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    published = re.search(r"^published (\d+) events", done.stdout, re.MULTILINE)
    assert published is not None, done.stdout
    assert int(published[1]) >= 1500
    round_line = re.search(
        r"^round 1: raw (\d+) records .*; rebuild (\d+) records .* (\d+) skipped; replay ",
        done.stdout,
        re.MULTILINE,
    )
    assert round_line is not None, done.stdout
    # Both read the same partitions from their beginning (the session's topics hold more).
    assert int(round_line[1]) >= int(published[1])
    assert int(round_line[2]) >= int(round_line[1])
    assert re.search(r"^ratio rebuild/raw .*: [\d.]+ \(", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^rebuild peak resident memory: \d+ MiB", done.stdout, re.MULTILINE)
