"""Tokens for notify's API served in the test's process (the `notify_api` fixture)."""

from __future__ import annotations

import httpx
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

API_SECRET = "notify-api-test-secret-0123456789abcdef0123456789"


def api_bearer(role: Role, campus_id: str, sub: str = "A0001") -> dict[str, str]:
    """The header of a token for `role` at `campus_id`, for person `sub`."""
    token = mint_token(API_SECRET, sub=sub, role=role, campus_id=campus_id)
    return {"Authorization": f"Bearer {token}"}


async def post_contacts(
    api: httpx.AsyncClient, campus: str, kind: str, data: bytes, language: str = "zh-CN"
) -> httpx.Response:
    """Import a staff or family contacts file as the campus's admin, in `language`."""
    return await api.post(
        f"/v1/imports/{kind}-contacts",
        files={"file": (f"{kind}.csv", data, "text/csv")},
        headers={**api_bearer(Role.CAMPUS_ADMIN, campus), "Accept-Language": language},
    )
