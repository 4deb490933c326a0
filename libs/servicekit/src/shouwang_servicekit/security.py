"""Who may call: the bearer token as a `Principal`, and the role and campus checks.

`CurrentPrincipal` authenticates with the app's `token_verifier` (set by `service_app`);
`require_roles(...)` also narrows by role, in one dependency (FastAPI solves each dependency
per request, so a chain would cost more). The refusals are problems (401, 403, 415).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from shouwang_contracts.auth import AuthError, Principal, TokenVerifier
from shouwang_contracts.vocabulary import Role

from .problems import Problem


async def current_principal(request: Request) -> Principal:
    """Authenticate the bearer token with the app's `token_verifier`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "missing_token",
            "需要在 Authorization 头中提供 Bearer 令牌",
            detail_en="A bearer token is required in the Authorization header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        if verifier.needs_network:
            return await anyio.to_thread.run_sync(verifier.verify, token)
        return verifier.verify(token)
    except AuthError as exc:
        raise Problem(
            401,
            "invalid_token",
            "令牌无效或已过期，请重新登录",
            detail_en=str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(
    *roles: Role, json_body: bool = False
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets only the given roles through: 401 without a valid token, 403
    for other roles and, with `json_body`, 415 first unless the body is declared as JSON.

    One dependency rather than a chain: FastAPI solves each dependency per request.
    """
    allowed = frozenset(roles)

    async def check(request: Request) -> Principal:
        if json_body:
            await require_json(request)
        principal = await current_principal(request)
        if principal.role not in allowed:
            raise role_forbidden(principal.role, allowed)
        return principal

    return check


def role_forbidden(
    role: Role, allowed: Iterable[Role], action: tuple[str, str] = ("执行此操作", "do this")
) -> Problem:
    """403 `role_forbidden`: the caller's role may not do `action` (zh-CN, English); names
    the roles that may, in tier order."""
    ordered = sorted(allowed, key=list(Role).index)
    action_zh, action_en = action
    return Problem(
        403,
        "role_forbidden",
        f"{role.label()}无权{action_zh}；有权限的角色：" + "、".join(r.label() for r in ordered),
        detail_en=f"role {role.value} may not {action_en}; allowed: "
        + ", ".join(r.value for r in ordered),
    )


def require_same_campus(principal: Principal, campus_id: str) -> None:
    """Refuse a request about another campus than the caller's own."""
    if principal.campus_id != campus_id:
        raise Problem(
            403,
            "campus_forbidden",
            "campus_id 与令牌所属的校区不一致",
            detail_en="campus_id does not match your token's campus",
        )


async def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (a dependency for JSON endpoints).

    Async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread hop
    per request that costs more than the check.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem(
            415,
            "unsupported_media_type",
            "请使用 application/json 提交",
            detail_en="Send the body as application/json",
        )
