"""One stolen token against casework as it runs (docs/security/routes.md): every read of a
student's file writes an audit row, so a token read flat out would copy every file in its
scope and flood the audit log. The reads casework names as audited are limited per person."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.main import create_app
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import PSEUDONYMS, SAMPLES, SECRET

pytestmark = pytest.mark.integration
BURST = 5


def as_(campus_id: str, sub: str, role: Role) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + mint_token(SECRET, sub=sub, role=role, campus_id=campus_id)
    }


async def seeded_campus(client: httpx.AsyncClient) -> tuple[str, str]:
    """A campus with the sample rosters; the pseudonym of student 2024020001 (8号楼)."""
    campus_id = f"campus-{uuid.uuid4().hex[:8]}"
    admin = as_(campus_id, "A001", Role.CAMPUS_ADMIN)
    for kind, name in (("students", "roster_students.csv"), ("staff", "roster_staff.csv")):
        response = await client.post(
            f"/v1/roster/{kind}",
            files={"file": (name, (SAMPLES / name).read_bytes(), "text/csv")},
            headers=admin,
        )
        assert response.status_code == 200, response.text
    return campus_id, PSEUDONYMS.student_ref(campus_id, "2024020001")


async def audit_actions(pool: asyncpg.Pool, campus_id: str) -> list[str]:
    async with campus_transaction(pool, campus_id) as conn:
        rows = await conn.fetch("SELECT action FROM audit_log ORDER BY id")
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def casework_settings(casework_settings: CaseworkSettings) -> CaseworkSettings:
    # The module's settings with the audited reads limited as production limits them, to a
    # burst a test reaches in a few requests (the rate: one an hour, none come back meanwhile).
    return casework_settings.model_copy(
        update={
            "per_person_per_minute": 600,
            "audited_reads_per_hour": 1,
            "audited_reads_burst": BURST,
        }
    )


async def test_a_stolen_token_cannot_flood_the_audit_log_with_file_reads(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    campus_id, student_ref = await seeded_campus(client)
    thief = as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR)
    statuses = [
        (await client.get(f"/v1/students/{student_ref}/file", headers=thief)).status_code
        for _ in range(BURST + 10)
    ]
    assert statuses == [200] * BURST + [429] * 10
    refused = await client.get(
        f"/v1/students/{student_ref}/file", headers={**thief, "Accept-Language": "en"}
    )
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    # Refused reads read nothing and write nothing: the log holds the five reads made.
    assert await audit_actions(pool, campus_id) == ["file.read"] * BURST
    # Lookups share the person's allowance; a colleague's is their own.
    lookup = await client.get("/v1/students/lookup", params={"q": "20"}, headers=thief)
    assert lookup.status_code == 429
    colleague = as_(campus_id, "T3001", Role.COUNSELING_CENTER)
    answer = await client.get(f"/v1/students/{student_ref}/file", headers=colleague)
    assert answer.status_code == 200


async def test_a_stolen_token_is_not_given_twice_the_rate_by_two_replicas(
    client: httpx.AsyncClient, pool: asyncpg.Pool, casework_settings: CaseworkSettings
) -> None:
    """Casework runs two replicas: a second app on the same database, and one token's file
    reads alternating between the two, get the burst once (the count is shared through
    `person_limits`), not once per replica."""
    campus_id, student_ref = await seeded_campus(client)
    thief = as_(campus_id, "T1002", Role.RESIDENCE_COUNSELOR)
    second = create_app(casework_settings)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework") as other:
            statuses = [
                (
                    await (client, other)[n % 2].get(
                        f"/v1/students/{student_ref}/file", headers=thief
                    )
                ).status_code
                for n in range(2 * BURST + 4)
            ]
    assert statuses.count(200) == BURST
    assert statuses.count(429) == BURST + 4
    assert await audit_actions(pool, campus_id) == ["file.read"] * BURST
