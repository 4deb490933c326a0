from __future__ import annotations

import pytest
from shouwang_triage.adapters.policy_file import load_policy
from shouwang_triage.domain.policy import GradingPolicy


@pytest.fixture(scope="session")
def policy() -> GradingPolicy:
    return load_policy()
