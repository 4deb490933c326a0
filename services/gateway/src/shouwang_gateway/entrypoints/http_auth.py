"""Signing in and out over HTTP (/auth/...), the session the web app reads, and the campus
directory and JWKS the gateway publishes.

The session lives in an HTTP-only, SameSite=Strict cookie (`__Host-` prefixed, so Secure,
path / and no Domain); the web app never sees a bearer token. Every request that changes
something carries the session's CSRF token in `X-CSRF-Token`, and requests from another
site are refused by their `Origin` / `Sec-Fetch-Site` headers before anything else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from shouwang_servicekit.app import app_container
from shouwang_servicekit.problems import Problem, preferred_language

from .. import metrics
from ..adapters.pending import PENDING_SECONDS
from ..config import GatewaySettings
from ..container import Gateway
from ..domain.sessions import Session
from ..service_layer.signin import SignedIn, SignInRefused

router = APIRouter(tags=["sign-in"])

# The refusals each sign-in operation may answer (problem+json, the kit documents the body),
# so generated clients and the contract tests know them.
_SIGN_IN_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON."},
    401: {"description": "Unknown account or wrong password."},
    403: {"description": "The request came from another site."},
    404: {"description": "Local accounts are off here (single sign-on only)."},
    413: {"description": "The body is larger than a sign-in can be."},
    415: {"description": "The body is not application/json."},
    429: {"description": "Too many failed sign-ins for this account or address."},
}
_SIGN_OUT_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Another site's request, or the session's CSRF token missing."},
}
_SSO_START_REFUSALS: dict[int | str, dict[str, Any]] = {
    303: {"description": "To the identity provider."},
    404: {"description": "Single sign-on is not configured here."},
}
_SSO_CALLBACK_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: {"description": "Signed in (to where the sign-in started), or to the sign-in page."},
}

SECURE_COOKIE = "__Host-shouwang-session"
PLAIN_COOKIE = "shouwang-session"
SECURE_PENDING_COOKIE = "__Host-shouwang-sso"
PLAIN_PENDING_COOKIE = "shouwang-sso"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def app_deps(request: Request) -> Gateway:
    """The gateway's container (also for handlers that take the request alone)."""
    deps: Gateway = app_container(request)
    return deps


Container = Annotated[Gateway, Depends(app_container)]


def cookie_name(settings: GatewaySettings) -> str:
    return SECURE_COOKIE if settings.cookie_secure else PLAIN_COOKIE


def set_session_cookie(response: Response, settings: GatewaySettings, signed: SignedIn) -> None:
    response.set_cookie(
        cookie_name(settings),
        signed.session_id,
        max_age=int(settings.session_hours * 3600),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def pending_cookie_name(settings: GatewaySettings) -> str:
    return SECURE_PENDING_COOKIE if settings.cookie_secure else PLAIN_PENDING_COOKIE


def set_pending_cookie(response: Response, settings: GatewaySettings, sealed: str) -> None:
    """The sealed sign-in in flight (`adapters.pending`). SameSite=Lax, not Strict: the
    provider sends the browser back by a cross-site navigation, which a Strict cookie misses."""
    response.set_cookie(
        pending_cookie_name(settings),
        sealed,
        max_age=PENDING_SECONDS,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_pending_cookie(response: Response, settings: GatewaySettings) -> None:
    response.delete_cookie(
        pending_cookie_name(settings),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: GatewaySettings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _expected_origin(request: Request, settings: GatewaySettings) -> str:
    if settings.public_origin:
        return settings.public_origin.rstrip("/")
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def refuse_cross_site(request: Request, settings: GatewaySettings) -> None:
    """A state-changing request must come from our own pages (CSRF's first line)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if (site is not None and site not in ("same-origin", "none")) or (
        origin is not None and origin.rstrip("/") != _expected_origin(request, settings)
    ):
        raise Problem(
            403,
            "cross_site_request",
            "请求来自其他网站，已拒绝",
            detail_en="The request came from another site and was refused",
        )


def require_csrf(request: Request, session: Session, settings: GatewaySettings) -> None:
    """Same site, and the session's CSRF token in the header."""
    refuse_cross_site(request, settings)
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Problem(
            403,
            "csrf_token_invalid",
            "页面已过期或请求不完整，请刷新页面后重试",
            detail_en="The page is stale or the request incomplete; reload and retry",
        )


def session_required() -> Problem:
    return Problem(
        401,
        "session_required",
        "请先登录",
        detail_en="Sign in first",
        headers={"WWW-Authenticate": 'Cookie realm="shouwang"'},
    )


async def current_session(request: Request, deps: Gateway) -> Session | None:
    return await deps.sign_ins.resolve(request.cookies.get(cookie_name(deps.settings)))


def _refused(exc: SignInRefused) -> Problem:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return Problem(exc.status, exc.code, exc.zh, detail_en=exc.en, headers=headers)


class SignInIn(BaseModel):
    """A local account's credentials."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    campus_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    """The signed-in person, as the web app shows them."""

    sub: str
    role: str
    role_label: str
    campus_id: str
    display_name: str
    scope: list[str]


class SessionOut(BaseModel):
    """Who is signed in, and the token the web app sends back with every write."""

    signed_in: bool
    user: UserOut | None = None
    csrf_token: str | None = None
    expires_at: str | None = None
    methods: dict[str, bool]


def _session_out(request: Request, deps: Gateway, session: Session | None) -> SessionOut:
    methods = {"local": deps.settings.local_accounts, "oidc": deps.settings.oidc_enabled}
    if session is None:
        return SessionOut(signed_in=False, methods=methods)
    who = session.identity
    return SessionOut(
        signed_in=True,
        user=UserOut(
            sub=who.sub,
            role=who.role.value,
            role_label=who.role.label(preferred_language(request)),
            campus_id=who.campus_id,
            display_name=who.display_name,
            scope=list(who.scope),
        ),
        csrf_token=session.csrf_token,
        expires_at=session.expires_at.isoformat(),
        methods=methods,
    )


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.get("/auth/session", operation_id="get_session", response_model=SessionOut)
async def get_session(request: Request, response: Response, deps: Container) -> SessionOut:
    """The current session (or `signed_in: false`), with its CSRF token."""
    _no_store(response)
    return _session_out(request, deps, await current_session(request, deps))


@router.post(
    "/auth/login", operation_id="sign_in", response_model=SessionOut, responses=_SIGN_IN_REFUSALS
)
async def sign_in(request: Request, body: SignInIn, deps: Container) -> JSONResponse:
    """Sign in with a local account; answers the new session and sets its cookie."""
    refuse_cross_site(request, deps.settings)
    if not deps.settings.local_accounts:
        raise Problem(
            404,
            "local_accounts_disabled",
            "本系统不使用本地账号，请用统一身份认证登录",
            detail_en="Local accounts are off here; use single sign-on",
        )
    old = await current_session(request, deps)
    if old is not None:
        await deps.sign_ins.sign_out(old)
    address = request.client.host if request.client else "unknown"
    try:
        signed = await deps.sign_ins.local(body.campus_id, body.username, body.password, address)
    except SignInRefused as exc:
        metrics.SIGN_INS.labels("local", "throttled" if exc.status == 429 else "refused").inc()
        raise _refused(exc) from exc
    metrics.SIGN_INS.labels("local", "ok").inc()
    answer = JSONResponse(_session_out(request, deps, signed.session).model_dump())
    set_session_cookie(answer, deps.settings, signed)
    _no_store(answer)
    return answer


@router.post(
    "/auth/logout",
    operation_id="sign_out",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_SIGN_OUT_REFUSALS,
)
async def sign_out(request: Request, deps: Container) -> Response:
    """End the session here and now (its cookie and its tokens)."""
    session = await current_session(request, deps)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    if session is not None:
        require_csrf(request, session, deps.settings)
        await deps.sign_ins.sign_out(session)
    clear_session_cookie(answer, deps.settings)
    return answer


@router.get("/auth/oidc/start", operation_id="start_single_sign_on", responses=_SSO_START_REFUSALS)
async def start_single_sign_on(
    deps: Container, return_to: Annotated[str | None, Query(max_length=512)] = None
) -> RedirectResponse:
    """Send the browser to the identity provider (authorization code with PKCE)."""
    try:
        started = await deps.sign_ins.start_oidc(return_to)
    except SignInRefused as exc:
        raise _refused(exc) from exc
    answer = RedirectResponse(started.url, status_code=status.HTTP_303_SEE_OTHER)
    set_pending_cookie(answer, deps.settings, started.pending)
    return answer


@router.get(
    "/auth/oidc/callback", operation_id="finish_single_sign_on", responses=_SSO_CALLBACK_ANSWERS
)
async def finish_single_sign_on(
    request: Request,
    deps: Container,
    state: Annotated[str, Query(max_length=256)] = "",
    code: Annotated[str, Query(max_length=4096)] = "",
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> RedirectResponse:
    """The provider sends the browser back here; a failure lands on the sign-in page (with
    `error=sso_scope` when the account's role lacks the grant it needs, else `error=sso`)."""

    def to_login(reason: str = "sso") -> RedirectResponse:
        refused = RedirectResponse(f"/login?error={reason}", status_code=status.HTTP_303_SEE_OTHER)
        # Whatever happens, the sign-in in flight is over: its cookie goes.
        clear_pending_cookie(refused, deps.settings)
        metrics.SIGN_INS.labels("oidc", "refused").inc()
        return refused

    if error or not state or not code:
        return to_login()
    sealed = request.cookies.get(pending_cookie_name(deps.settings))
    try:
        signed = await deps.sign_ins.finish_oidc(state, code, sealed)
    except SignInRefused as exc:
        return to_login("sso_scope" if exc.code == "scope_missing" else "sso")
    metrics.SIGN_INS.labels("oidc", "ok").inc()
    answer = RedirectResponse(signed.return_to, status_code=status.HTTP_303_SEE_OTHER)
    clear_pending_cookie(answer, deps.settings)
    set_session_cookie(answer, deps.settings, signed)
    return answer


@router.get("/auth/campuses", operation_id="list_campuses")
async def list_campuses(deps: Container) -> dict[str, Any]:
    """Campuses and the numbers to call in an emergency (public: no sign-in needed)."""
    return deps.directory.model_dump(mode="json")


@router.get("/.well-known/jwks.json", operation_id="jwks", include_in_schema=False)
async def jwks(deps: Container) -> dict[str, Any]:
    """The public keys of the gateway's RS256 tokens, for the services' SHOUWANG_JWKS_URL."""
    return deps.minter.jwks()
