"""bench/stats_answer_latency.py runs in miniature and prints its four figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]


def test_stats_answer_latency_prints_every_figure() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "stats_answer_latency.py"),
            "--colleges",
            "4",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    names = re.findall(r"^(baseline|spine)[^\n]*?\s[\d.]+ ms\s+[\d.]+×$", done.stdout, re.MULTILINE)
    assert names == ["baseline", "spine", "spine", "spine"], done.stdout
