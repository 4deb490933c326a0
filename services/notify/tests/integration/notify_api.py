"""Tokens for notify's API served in the test's process (the `notify_api` fixture)."""

from __future__ import annotations

from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

API_SECRET = "notify-api-test-secret-0123456789abcdef0123456789"


def api_bearer(role: Role, campus_id: str, sub: str = "A0001") -> dict[str, str]:
    """The header of a token for `role` at `campus_id`, for person `sub`."""
    token = mint_token(API_SECRET, sub=sub, role=role, campus_id=campus_id)
    return {"Authorization": f"Bearer {token}"}
