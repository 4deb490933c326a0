"""Real triage processes on the session's real Kafka and PostgreSQL (devstack fixtures)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.topics import CASES, CENSUS, DIRECTORY, REPORTS, SCREENINGS
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess
from shouwang_devstack.topics import start_groups_at_end

from .lanes import Lanes, open_lanes

pytestmark = pytest.mark.integration

# A campus with a seconds-long ladder, so escalation and re-alerts are observable in a test.
FAST_CAMPUS = "fast"
REALERT_SECONDS = 2
FAST_LADDER = f"""
fast:
  ladder:
    rungs:
      mild: {{ack_within: 3s, escalate_within: 3s}}
      moderate: {{ack_within: 3s, escalate_within: 3s}}
      severe: {{ack_within: 3s, escalate_within: 3s, realert_every: {REALERT_SECONDS}s}}
      critical: {{ack_within: 3s, escalate_within: 3s, realert_every: {REALERT_SECONDS}s}}
"""

TriageFactory = Callable[..., ServiceProcess]


@pytest.fixture
def campus_file(tmp_path: Path) -> Path:
    path = tmp_path / "campuses.yaml"
    path.write_text(FAST_LADDER, encoding="utf-8")
    return path


async def _start_groups_at_end(bootstrap: str, prefix: str) -> None:
    """Commit the end of every input topic for a new group prefix: a test's fresh triage
    would otherwise first regrade everything earlier tests published on the session's broker.
    """
    topics = (REPORTS, SCREENINGS, CENSUS, CASES, DIRECTORY)
    await start_groups_at_end(bootstrap, {f"{prefix}.{topic}": topic for topic in topics})


@pytest.fixture
def triage_process(
    service_process: Callable[..., ServiceProcess], campus_file: Path, kafka_bootstrap: str
) -> TriageFactory:
    """`triage_process(database_url=None, group=None)`: a triage subprocess, not started.

    Pass the same database URL and group to run replicas or a restarted instance; by default
    each call gets a fresh database and consumer groups of its own. A group starts at the end
    of the input topics the first time it is named.
    """
    prepared: set[str] = set()

    def build(database_url: str | None = None, group: str | None = None) -> ServiceProcess:
        group = group or f"triage-test-{uuid.uuid4().hex[:8]}"
        if group not in prepared:
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(asyncio.run, _start_groups_at_end(kafka_bootstrap, group)).result()
            prepared.add(group)
        env = {
            "TRIAGE_CAMPUS_FILE": str(campus_file),
            "TRIAGE_GROUP_PREFIX": group,
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


@pytest.fixture
async def lanes(service_database: Any) -> AsyncIterator[Lanes]:
    async with open_lanes(await service_database("triage")) as opened:
        yield opened
