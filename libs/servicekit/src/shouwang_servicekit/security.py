"""Who may call: the bearer token as a `Principal`, and the role and campus checks.

In a `service_app` the edge authenticates every `/v1` request before anything reads its body
(`authenticate`, 401 while a client may still be sending), and refuses the roles a route's
`require_roles(...)` does not admit (403, `role_guards`) before FastAPI reads the body:
FastAPI parses a multipart body to disk before it solves the dependencies, so an unchecked
caller could fill the pod's temporary volume. `CurrentPrincipal` then reads the principal
the edge found (or authenticates itself, outside a service app); `require_roles(...)` also
narrows by role, in one dependency (FastAPI solves each dependency per request, so a chain
would cost more). The refusals are problems (401, 403, 415).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from shouwang_contracts.auth import AuthError, Principal, TokenVerifier
from shouwang_contracts.vocabulary import Role

from .problems import Problem

#: Where the edge leaves the principal it authenticated, for `current_principal`.
PRINCIPAL_SCOPE_KEY = "shouwang.principal"
#: The attribute `require_roles` marks its check with: the roles it lets through.
_ALLOWED_ROLES = "shouwang_allowed_roles"


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer ...` header among raw ASGI headers."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


async def authenticate(verifier: TokenVerifier, token: str | None) -> Principal:
    """The principal of a bearer token, or the 401 problem (missing or invalid token)."""
    if not token:
        raise Problem(
            401,
            "missing_token",
            "需要在 Authorization 头中提供 Bearer 令牌",
            detail_en="A bearer token is required in the Authorization header",
            headers={"WWW-Authenticate": "Bearer"},
        )
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


async def current_principal(request: Request) -> Principal:
    """The caller: as the edge authenticated them, else from the bearer token with the
    app's `token_verifier`."""
    found: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if found is not None:
        return found
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await authenticate(verifier, token if scheme.lower() == "bearer" else None)


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

    setattr(check, _ALLOWED_ROLES, allowed)  # read by role_guards
    return check


def _declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's `require_roles` dependency (at any depth) lets through."""
    for dependency in dependant.dependencies:
        allowed: frozenset[Role] | None = getattr(dependency.call, _ALLOWED_ROLES, None)
        if allowed is None:
            allowed = _declared_roles(dependency)
        if allowed is not None:
            return allowed
    return None


@dataclass(frozen=True, slots=True)
class RoleGuard:
    """The roles one route lets through, for the edge to check before the body is read.

    A path an earlier route of the same method answers (`shadowed_by`: `/v1/cases/count`
    before `/v1/cases/{case_id}`) is not this route's: the router, first match first, never
    sends it here, so this route's roles must not refuse it."""

    methods: frozenset[str]
    path: re.Pattern[str]
    allowed: frozenset[Role]
    shadowed_by: tuple[re.Pattern[str], ...] = ()

    def refuses(self, method: str, path: str, role: Role) -> bool:
        """True when this route serves `method path` and `role` may not call it."""
        return (
            method in self.methods
            and self.path.match(path) is not None
            and role not in self.allowed
            and not any(earlier.match(path) for earlier in self.shadowed_by)
        )


def api_routes(router: APIRouter) -> Iterator[APIRoute]:
    """The routes of `router` the edge guards. A router included in it is refused: FastAPI
    serves its routes under the joined prefixes, but `router.routes` holds it as one opaque
    entry, so its routes would get no role guard before the body is read and no rate limit
    (notify's contacts uploads did, for a day); include it in the app's routers instead."""
    for route in router.routes:
        if hasattr(route, "original_router") or hasattr(route, "effective_candidates"):
            raise ValueError(
                f"a router is included in the router of prefix {router.prefix or '/'!r}: the"
                " edge would not guard its routes; list it in the app's routers instead"
            )
        if isinstance(route, APIRoute):
            yield route


def role_guards(routers: Iterable[APIRouter]) -> list[RoleGuard]:
    """A guard per route that declares `require_roles(...)` (at any depth of its
    dependencies), so that the edge refuses other roles before FastAPI reads the body."""
    guards = []
    earlier: list[tuple[frozenset[str], re.Pattern[str]]] = []
    for router in routers:
        for route in api_routes(router):
            methods = frozenset(route.methods or ())
            allowed = _declared_roles(route.dependant)
            if allowed is not None:
                shadowed_by = tuple(path for seen, path in earlier if seen & methods)
                guards.append(RoleGuard(methods, route.path_regex, allowed, shadowed_by))
            earlier.append((methods, route.path_regex))
    return guards


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
