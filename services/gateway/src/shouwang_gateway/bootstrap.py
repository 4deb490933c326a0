"""Wiring: settings -> pool, store, password hasher, token minter, upstream clients, sign-ins,
and the housekeeping chore; assembled once into the `Gateway` container."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import httpx
from shouwang_servicekit.resources import open_pool
from shouwang_servicekit.tasks import BackgroundTasks, Chore

from .adapters.oidc import OidcProvider
from .adapters.passwords import Passwords
from .adapters.pending import PendingSeal
from .adapters.store import GatewayStore
from .adapters.tokens import TokenMinter
from .config import UPSTREAMS, GatewaySettings
from .container import Gateway
from .domain.campuses import load_directory
from .domain.sessions import SessionPolicy
from .domain.throttle import Limit
from .service_layer.signin import SignIns

HOUSEKEEPING_SECONDS = 300.0


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


def build_pending_seal(settings: GatewaySettings) -> PendingSeal:
    """The seal of OIDC sign-ins in flight, keyed by the gateway's signing secret (the RS256
    key, else the HS256 secret): a secret production already holds and keeps, from which
    HKDF derives a key used for nothing else."""
    if settings.signing_key is not None:
        secret = settings.signing_key.get_secret_value()
    else:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    return PendingSeal(secret.encode())


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


def _housekeeping(store: GatewayStore, settings: GatewaySettings) -> Chore:
    """Forget expired sessions and old failures (a kit chore)."""
    policy = session_policy(settings)
    window = timedelta(minutes=settings.signin_window_minutes)

    async def chore() -> None:
        await store.forget_expired(datetime.now(UTC), policy.idle, window)

    return chore


async def bootstrap(settings: GatewaySettings) -> Gateway:
    """Connect to PostgreSQL, open the upstream clients, start housekeeping."""
    resources = AsyncExitStack()
    try:
        pool = await open_pool(
            resources,
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
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
            pending_seal=build_pending_seal(settings),
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
        upstreams = {}
        for name in UPSTREAMS:
            client = httpx.AsyncClient(base_url=settings.upstream_url(name), timeout=timeout)
            resources.push_async_callback(client.aclose)
            upstreams[name] = client
        tasks = BackgroundTasks()
        resources.push_async_callback(tasks.close)
        tasks.every(
            HOUSEKEEPING_SECONDS, _housekeeping(store, settings), name="gateway-housekeeping"
        )
        return Gateway(
            settings=settings,
            store=store,
            sign_ins=sign_ins,
            minter=minter,
            directory=load_directory(settings.campuses_file),
            upstreams=upstreams,
            resources=resources,
        )
    except BaseException:
        await resources.aclose()
        raise
