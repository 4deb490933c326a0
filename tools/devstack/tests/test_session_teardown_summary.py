"""The terminal summary says which session fixture the end of a run waited for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SESSION = """
import time
import pytest

@pytest.fixture(scope="session")
def slow_server():
    yield
    time.sleep(0.3)

@pytest.fixture(scope="session")
def quick_server():
    yield

def test_one(slow_server, quick_server):
    pass

def test_two(slow_server):
    pass
"""


def test_the_summary_names_the_session_fixture_whose_teardown_was_slow(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(SESSION, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "shouwang_devstack.pytest_teardown",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_inner.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = [line for line in done.stdout.splitlines() if "session teardown" in line]
    assert len(summary) == 1, done.stdout
    # Slept 0.3 s in its teardown: named, with at least that (the threshold is 0.1 s).
    assert "slow_server " in summary[0], summary[0]
    seconds = float(summary[0].split("slow_server ", 1)[1].split("s", 1)[0])
    assert seconds >= 0.3, summary[0]
