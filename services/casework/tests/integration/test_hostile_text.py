"""Text no PostgreSQL query can take, sent to casework's real app on real PostgreSQL: a NUL in
a path, a query or a JSON body (422), and a lone surrogate escape (400): a problem, never a
500. Before the edge refused them, a NUL in a lookup, a card, a file's path and an audit
filter each failed in asyncpg (CharacterNotInRepertoireError) as a 500."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from shouwang_casework.config import CaseworkSettings
from shouwang_casework.main import create_app
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import SECRET

pytestmark = pytest.mark.integration

CAMPUS = "hostile-text"
REASON = "学生家长来电称其失联，需立即核实住址与联系方式"


def as_(role: Role) -> dict[str, str]:
    token = mint_token(SECRET, sub=f"t-{role.value}", role=role, campus_id=CAMPUS)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
async def answering(casework_settings: CaseworkSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app as a client sees it: a server error is an answer, not an exception."""
    app = create_app(casework_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework") as client:
            yield client


@pytest.mark.parametrize(
    ("role", "method", "url", "body", "status", "code"),
    [
        (Role.COUNSELING_CENTER, "GET", "/v1/students/lookup?q=%00ab", None, 422, "nul_character"),
        (Role.COUNSELING_CENTER, "GET", "/v1/students/cards?ref=%00", None, 422, "nul_character"),
        (Role.COUNSELING_CENTER, "GET", "/v1/students/%00/file", None, 422, "nul_character"),
        (Role.AUDITOR, "GET", "/v1/audit?student_ref=%00", None, 422, "nul_character"),
        (
            Role.COUNSELING_CENTER,
            "POST",
            "/v1/students/s-1/break-glass",
            f'{{"reason": "{REASON}\\u0000", "minutes": 30}}',
            422,
            "nul_character",
        ),
        (
            Role.COUNSELING_CENTER,
            "POST",
            "/v1/students/s-1/break-glass",
            f'{{"reason": "{REASON}\\ud800", "minutes": 30}}',
            400,
            "malformed_json",
        ),
    ],
)
async def test_nul_character_or_lone_surrogate_is_refused_not_a_server_error(
    answering: httpx.AsyncClient,
    role: Role,
    method: str,
    url: str,
    body: str | None,
    status: int,
    code: str,
) -> None:
    answer = await answering.request(
        method, url, content=body.encode() if body else None, headers=as_(role)
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
