"""Admission: who may come in, decided at the edge before a request's body is read.

A `/v1/` request must carry a valid bearer token (401), a role its route admits (403), and
keep within its person's limits (429): all requests, and more tightly the reads that write an
audit row. A request without a valid token, anywhere but the operators' paths, keeps within
its address's limit (429). `EdgeMiddleware` asks `Admission.admit` once per request; the
limits themselves (`RateLimiter`, `PersonLimits`) are `ratelimits`'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from prometheus_client import Counter
from shouwang_contracts.auth import Principal, TokenVerifier
from starlette.types import Scope

from .problems import Problem
from .ratelimits import PersonLimits, RateLimiter, RouteLimit, person_key, too_many_requests
from .security import (
    PRINCIPAL_SCOPE_KEY,
    RoleGuard,
    api_routes,
    authenticate,
    bearer_token,
    role_forbidden,
)

#: Paths under this prefix need a bearer token; the rest (`/healthz`, `/readyz`, `/metrics`,
#: the OpenAPI document) are public.
AUTHENTICATED_PREFIX = "/v1/"
#: The operators' paths, never rate limited: a refused probe would restart a healthy pod.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: Where a request admitted keeps the route limits that may give it back (`Admission.answered`).
COUNTED_SCOPE_KEY = "shouwang.route_limits_counted"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The method and path of one route, matched before routing: a path an earlier route of
    the same method answers (`shadowed_by`: `/v1/cases/count` before `/v1/cases/{case_id}`)
    is not this route's, as the router, first match first, would not send it here."""

    methods: frozenset[str]
    path: re.Pattern[str]
    shadowed_by: tuple[re.Pattern[str], ...] = ()

    def matches(self, method: str, path: str) -> bool:
        return (
            method in self.methods
            and self.path.match(path) is not None
            and not any(earlier.match(path) for earlier in self.shadowed_by)
        )


def route_matches(routers: Iterable[APIRouter], named: Iterable[str]) -> list[RouteMatch]:
    """The routes `named` as "METHOD /template" (e.g. "GET /v1/cases/{case_id}"), `routers`
    in the order the app includes them; a name no route of `routers` answers to is a mistake,
    raised at once (a renamed route would otherwise leave its reads unlimited without a
    word)."""
    wanted = set(named)
    found: list[RouteMatch] = []
    earlier: dict[str, list[re.Pattern[str]]] = {}
    for router in routers:
        for route in api_routes(router):
            for method in route.methods or ():
                name = f"{method} {route.path}"
                if name in wanted:
                    wanted.discard(name)
                    shadowed_by = tuple(earlier.get(method, ()))
                    found.append(RouteMatch(frozenset({method}), route.path_regex, shadowed_by))
                earlier.setdefault(method, []).append(route.path_regex)
    if wanted:
        raise ValueError(f"no route answers to {', '.join(sorted(wanted))}")
    return found


class Admission:
    """The edge's gate: authentication, role guards and rate limits, each optional.

    `rate_limited` (`HttpMetrics.rate_limited`) counts the refusals of each limit by its name
    (`unauthenticated`, `person`, `person_audited_reads`, a `RouteLimit`'s): never by person
    or address.
    """

    def __init__(
        self,
        *,
        token_verifier: TokenVerifier | None = None,
        role_guards: list[RoleGuard] | None = None,
        unauthenticated_limiter: RateLimiter | None = None,
        person_limits: PersonLimits | None = None,
        audited_reads: list[RouteMatch] | None = None,
        route_limits: list[tuple[RouteLimit, list[RouteMatch]]] | None = None,
        rate_limited: Counter | None = None,
    ) -> None:
        self.verifier = token_verifier
        self.role_guards = role_guards or []
        self.unauthenticated_limiter = unauthenticated_limiter
        self.person_limits = person_limits
        self.audited_reads = audited_reads or []
        self.route_limits = route_limits or []
        self.rate_limited = rate_limited

    async def admit(self, scope: Scope, path: str) -> Problem | None:
        """Authenticate a `/v1/` request and limit callers without a valid token; the
        refusal, or None to go on. Reads no body."""
        needs_token = self.verifier is not None and path.startswith(AUTHENTICATED_PREFIX)
        if needs_token:
            assert self.verifier is not None
            try:
                principal = await authenticate(
                    self.verifier, bearer_token(scope.get("headers", ()))
                )
            except Problem as refused:
                return self._limited(scope) or refused
            scope[PRINCIPAL_SCOPE_KEY] = principal
            for guard in self.role_guards:
                if guard.refuses(scope["method"], path, principal.role):
                    return role_forbidden(principal.role, guard.allowed)
            return await self._person_limited(scope, principal, scope["method"], path)
        if path in OPERATIONS_PATHS:
            return None
        return self._limited(scope)

    def _limited(self, scope: Scope) -> Problem | None:
        """429 when the unauthenticated caller's address is over its limit."""
        if self.unauthenticated_limiter is None:
            return None
        client = scope.get("client")
        wait = self.unauthenticated_limiter.acquire(client[0] if client else "unknown")
        if wait:
            self._count_limited("unauthenticated")
            return too_many_requests(wait, ("未认证的请求", "unauthenticated requests"))
        return None

    def answered(self, scope: Scope, status: int) -> None:
        """The request's answer starts with `status`: the route limits that give back such
        an answer (`RouteLimit.given_back`) uncount the request. Called before the answer is
        sent, so the person's next request finds it given back."""
        counted: tuple[str, list[RouteLimit]] | None = scope.pop(COUNTED_SCOPE_KEY, None)
        if counted is None or self.person_limits is None:
            return
        key, route_limits = counted
        for route_limit in route_limits:
            if status in route_limit.given_back:
                self.person_limits.give_back(key, route_limit.name, route_limit.limiter)

    async def _person_limited(
        self, scope: Scope, principal: Principal, method: str, path: str
    ) -> Problem | None:
        """429 when the signed-in person is over their limit of requests, or of reads that
        write an audit row (across replicas, with a shared counter). Checked after the role
        guard: a refused role costs nothing."""
        limits = self.person_limits
        if limits is None:
            return None
        counted: list[tuple[str, RateLimiter]] = []
        if limits.requests is not None:
            counted.append(("person", limits.requests))
        if limits.audited_reads is not None and any(
            read.matches(method, path) for read in self.audited_reads
        ):
            counted.append(("person_audited_reads", limits.audited_reads))
        on_route = [
            route_limit
            for route_limit, routes in self.route_limits
            if any(route.matches(method, path) for route in routes)
        ]
        counted += [(route_limit.name, route_limit.limiter) for route_limit in on_route]
        key = person_key(principal.campus_id, principal.sub)
        refused = await limits.take(key, counted)
        if refused is None:
            if returnable := [limit for limit in on_route if limit.given_back]:
                scope[COUNTED_SCOPE_KEY] = (key, returnable)
            return None
        limit, wait = refused
        self._count_limited(limit)
        if limit == "person":
            return too_many_requests(wait, ("请求", "requests"))
        for route_limit in on_route:
            if route_limit.name == limit:
                return too_many_requests(wait, route_limit.what)
        return too_many_requests(wait, ("查阅学生档案和个案", "reads of student files and cases"))

    def _count_limited(self, limit: str) -> None:
        if self.rate_limited is not None:
            self.rate_limited.labels(limit).inc()
