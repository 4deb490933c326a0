"""The benchmark scripts import their helpers as top-level modules (`loadgen`, `stack`), as
they do when run as scripts from bench/; their tests do the same, and run the scripts in
miniature with `run_bench`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))


@pytest.fixture
def run_bench(postgres_admin_dsn: str) -> Callable[..., str]:
    """Run a bench script in miniature against the session's PostgreSQL (`DATABASE_URL`) and
    give back what it printed; a failed run fails the test with its output's tail."""

    def run(script: str, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [sys.executable, str(BENCH / script), *args],
            env={**os.environ, "DATABASE_URL": postgres_admin_dsn},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        return done.stdout

    return run
