"""The shared person limits' bench runs end to end in miniature and prints every figure
(never judged)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


@pytest.mark.timeout(200)
def test_person_limits_bench_prints_both_variants_and_their_ratio(
    run_bench: Callable[..., str],
) -> None:
    out = run_bench(
        "person_limits.py", "--cases", "3", "--requests", "20", "--clients", "2", "--rounds", "1"
    )
    rows = re.findall(r"^(per-process|shared)\s+\d+\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE)
    assert rows == ["per-process", "shared"], out
    assert re.search(r"ratio shared/per-process: reads/s [\d.]+, p50 latency [\d.]+", out)
    assert "unanswered (fell back to the local limit): " in out
