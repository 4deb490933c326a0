"""Notify as a real process: one test's campus, its staff, and its contact files imported.

The `campus` and `notify_process` fixtures (conftest.py) build on these; the tests are in
test_process.py (what goes out, the API) and test_process_restarts.py (kill -9 and restart).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx
from notify_delivery import SAMPLES
from notify_kafka import directory, publish, until_directory_applied
from shouwang_contracts.auth import mint_token
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.services import ServiceProcess

STAFF = {
    Role.COUNSELING_CENTER: "T3001",  # prefers SMS
    Role.RESIDENCE_COUNSELOR: "T1001",  # WeCom
    Role.COMMUNITY_PSYCH_TEACHER: "T2001",  # WeCom
    Role.COLLEGE_LEADER: "T4001",  # email
}


class Campus:
    """One test's campus: its own id, so tests share the broker without seeing each other."""

    def __init__(self, devstack_env: dict[str, str]) -> None:
        self.id = f"c{uuid.uuid4().hex[:8]}"
        self.env = devstack_env
        self.pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())

    def bearer(self, role: Role, sub: str = "A0001") -> dict[str, str]:
        token = mint_token(self.env["SHOUWANG_JWT_SECRET"], sub=sub, role=role, campus_id=self.id)
        return {"Authorization": f"Bearer {token}"}

    def student(self, number: str = "2024020001") -> str:
        return self.pseudonyms.student_ref(self.id, number)


async def import_samples(client: httpx.AsyncClient, campus: Campus) -> None:
    for kind in ("staff", "family"):
        data = (SAMPLES / f"contacts_{kind}.csv").read_bytes()
        answer = await client.post(
            f"/v1/imports/{kind}-contacts",
            files={"file": (f"contacts_{kind}.csv", data, "text/csv")},
            headers=campus.bearer(Role.CAMPUS_ADMIN),
        )
        assert answer.status_code == 201, answer.text


async def with_contacts_and_staff(
    notify: ServiceProcess, bootstrap: str, campus: Campus, staff: Mapping[Role, str]
) -> str:
    """The sample contact files imported, then the directory naming `staff` as the student's
    published and applied (first, as it would have come); the student's ref."""
    async with httpx.AsyncClient(base_url=notify.base_url, timeout=30) as client:
        await import_samples(client, campus)
    student = campus.student()
    await publish(bootstrap, directory(campus.id, campus.pseudonyms, "2024020001", dict(staff)))
    await until_directory_applied(notify.env["NOTIFY_DATABASE_URL"], campus.id, student)
    return student
