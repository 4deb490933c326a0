"""Wiring: settings -> pool, store, password hasher, token minter, upstream clients, sign-ins."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from .adapters.oidc import OidcProvider
from .adapters.passwords import Passwords
from .adapters.store import GatewayStore
from .adapters.tokens import TokenMinter
from .config import UPSTREAMS, GatewaySettings
from .domain.campuses import CampusDirectory, load_directory
from .domain.sessions import SessionPolicy
from .domain.throttle import Limit
from .service_layer.signin import SignIns

logger = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 300.0


@dataclass
class Deps:
    """Everything a request may need, built once at start-up."""

    settings: GatewaySettings
    pool: asyncpg.Pool
    store: GatewayStore
    sign_ins: SignIns
    minter: TokenMinter
    directory: CampusDirectory
    upstreams: dict[str, httpx.AsyncClient]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for client in self.upstreams.values():
            await client.aclose()
        await self.pool.close()


def build_minter(settings: GatewaySettings) -> TokenMinter:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    return TokenMinter(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.token_minutes * 60,
        secret=None if settings.signing_key else secret,
        private_key_pem=settings.signing_key.get_secret_value() if settings.signing_key else None,
        key_id=settings.signing_key_id,
    )


def build_oidc(settings: GatewaySettings) -> OidcProvider | None:
    if not settings.oidc_issuer:
        return None
    assert settings.oidc_client_id
    assert settings.oidc_redirect_uri
    return OidcProvider(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value()
        if settings.oidc_client_secret
        else None,
        redirect_uri=settings.oidc_redirect_uri,
        scope=settings.oidc_scope,
    )


def session_policy(settings: GatewaySettings) -> SessionPolicy:
    return SessionPolicy(
        lifetime=timedelta(hours=settings.session_hours),
        idle=timedelta(minutes=settings.session_idle_minutes),
    )


async def _housekeeping(deps: Deps) -> None:
    """Forget expired sessions, old failures and abandoned OIDC sign-ins, now and then."""
    policy = session_policy(deps.settings)
    window = timedelta(minutes=deps.settings.signin_window_minutes)
    while True:
        try:
            await deps.store.forget_expired(datetime.now(UTC), policy.idle, window)
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("housekeeping failed; retrying later", extra={"error": str(exc)})
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def bootstrap(settings: GatewaySettings) -> Deps:
    """Connect to PostgreSQL, open the upstream clients, start housekeeping."""
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=10,
    )
    store = GatewayStore(pool)
    minter = build_minter(settings)
    window = timedelta(minutes=settings.signin_window_minutes)
    sign_ins = SignIns(
        store=store,
        passwords=Passwords(),
        minter=minter,
        policy=session_policy(settings),
        per_account=Limit(settings.signin_failures_per_account, window),
        per_address=Limit(settings.signin_failures_per_address, window),
        oidc=build_oidc(settings),
        oidc_claims={
            "role": settings.oidc_role_claim,
            "campus": settings.oidc_campus_claim,
            "scope": settings.oidc_scope_claim,
            "sub": settings.oidc_sub_claim,
            "name": settings.oidc_name_claim,
        },
    )
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=5.0)
    upstreams = {
        name: httpx.AsyncClient(base_url=settings.upstream_url(name), timeout=timeout)
        for name in UPSTREAMS
    }
    deps = Deps(
        settings=settings,
        pool=pool,
        store=store,
        sign_ins=sign_ins,
        minter=minter,
        directory=load_directory(settings.campuses_file),
        upstreams=upstreams,
    )
    deps.tasks.append(asyncio.create_task(_housekeeping(deps), name="gateway-housekeeping"))
    return deps
