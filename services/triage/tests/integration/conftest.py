"""Real triage processes on the session's real Kafka and PostgreSQL (devstack fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess

pytestmark = pytest.mark.integration

# A campus with a seconds-long ladder, so escalation is observable within a test.
FAST_CAMPUS = "fast"
FAST_LADDER = """
fast:
  ladder:
    rungs:
      mild: {ack_within: 3s, escalate_within: 3s}
      moderate: {ack_within: 3s, escalate_within: 3s}
      severe: {ack_within: 3s, escalate_within: 3s}
      critical: {ack_within: 3s, escalate_within: 3s}
"""

TriageFactory = Callable[..., ServiceProcess]


@pytest.fixture
def campus_file(tmp_path: Path) -> Path:
    path = tmp_path / "campuses.yaml"
    path.write_text(FAST_LADDER, encoding="utf-8")
    return path


@pytest.fixture
def triage_process(
    service_process: Callable[..., ServiceProcess], campus_file: Path
) -> TriageFactory:
    """`triage_process(database_url=None, group=None)`: a triage subprocess, not started.

    Pass the same database URL and group to run replicas or a restarted instance; by default
    each call gets a fresh database and consumer groups of its own.
    """

    def build(database_url: str | None = None, group: str | None = None) -> ServiceProcess:
        env = {
            "TRIAGE_CAMPUS_FILE": str(campus_file),
            "TRIAGE_GROUP_PREFIX": group or f"triage-test-{uuid.uuid4().hex[:8]}",
            "TRIAGE_ESCALATION_INTERVAL_SECONDS": "0.2",
            "TRIAGE_RETRY_BACKOFF_SECONDS": "0.2",
        }
        if database_url:
            env["TRIAGE_DATABASE_URL"] = database_url
        return service_process("triage", env)

    return build


@pytest.fixture
def bearer(devstack_env: dict[str, str]) -> Callable[..., dict[str, str]]:
    """`bearer(role, campus="demo", scope=[...])` -> an Authorization header."""

    def make(role: Role, campus: str = "demo", scope: list[str] | None = None) -> dict[str, str]:
        token = mint_token(
            devstack_env["SHOUWANG_JWT_SECRET"],
            sub="staff-1",
            role=role,
            campus_id=campus,
            scope=scope,
        )
        return {"Authorization": f"Bearer {token}"}

    return make
