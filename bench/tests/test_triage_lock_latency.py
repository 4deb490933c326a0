"""The triage lock-latency bench runs end to end in miniature and prints every figure (never
judged)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


@pytest.mark.timeout(200)
def test_triage_lock_latency_prints_both_modes_and_their_ratio(
    run_bench: Callable[..., str],
) -> None:
    sizes = ("--reports", "3", "--rounds", "2", "--census", "5", "--students", "5")
    out = run_bench("triage_lock_latency.py", *sizes)
    modes = re.findall(
        r"^\s+(baseline|locked)\s+report p50\s+[\d.]+ ms\s+p99\s+[\d.]+ ms\s+census batch median",
        out,
        re.MULTILINE,
    )
    assert modes == ["baseline", "locked"], out
    assert re.search(r"locked / baseline: report p50 [\d.]+x", out), out
