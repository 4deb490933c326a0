"""The acknowledgement pages a message's link opens (`/ack/...`): server-rendered, no login.

The link itself is the credential (signed, expiring, single use, bound to alert and person);
a viewer who is signed in (a bearer token) as someone else is refused. Pages carry no
student data, are never cached, and leak no referrer. A gateway may serve them on the
app's own origin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.problems import Problem
from shouwang_servicekit.security import authenticate

from .. import metrics
from ..adapters.db import worker_transaction
from ..container import Notify
from ..domain.links import LinkRefusal, app_page
from ..service_layer.acks import LinkView, confirm_link, open_link
from .http import App

router = APIRouter(prefix="/ack", tags=["acknowledgement pages"], include_in_schema=True)

Token = Annotated[str, Path(min_length=16, max_length=1024, description="The signed link token.")]
Code = Annotated[str, Path(min_length=4, max_length=32, description="The SMS short code.")]
Lang = Annotated[str | None, Query(pattern="^(zh-CN|en)$", description="Page language.")]

_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
# Every answer is a page a person reads, refusals included.
PAGES: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "Someone else's link (a signed-in viewer who is not its recipient).",
        **_PAGE,
    },
    404: {"description": "A forged link, or one never issued.", **_PAGE},
    409: {"description": "Already used, or the alert was acknowledged meanwhile.", **_PAGE},
    410: {"description": "The link has expired.", **_PAGE},
}


def document_pages(spec: dict[str, Any]) -> dict[str, Any]:
    """The pages' refusals are HTML pages, not problem+json: say so in the OpenAPI document
    (the kit documents every error of every operation as problem+json)."""
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith(router.prefix + "/"):
            continue
        for operation in operations.values():
            for status, page in PAGES.items():
                operation.get("responses", {})[str(status)] = page
    return spec


_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_STATUS = {
    LinkRefusal.FORGED: 404,
    LinkRefusal.EXPIRED: 410,
    LinkRefusal.USED: 409,
    LinkRefusal.OTHER_PERSON: 403,
    LinkRefusal.ALREADY_ACKNOWLEDGED: 409,
}
_REFUSALS: dict[LinkRefusal, dict[str, tuple[str, str]]] = {
    LinkRefusal.FORGED: {
        "zh-CN": ("链接无效", "这个链接无法识别：它可能被改动过，或不是守望平台发出的。"),
        "en": (
            "This link is not valid",
            "This link cannot be recognised: it may have been altered, or it was not sent by Shouwang.",
        ),
    },
    LinkRefusal.EXPIRED: {
        "zh-CN": (
            "链接已过期",
            "这个确认链接已超过有效期。预警仍可能需要处理，请直接登录守望平台。",
        ),
        "en": (
            "This link has expired",
            "This confirmation link is past its time. The alert may still need you: sign in to Shouwang.",
        ),
    },
    LinkRefusal.USED: {
        "zh-CN": ("链接已使用", "这个链接已经确认过一次，不能重复使用。"),
        "en": (
            "This link was already used",
            "This link has been confirmed once and cannot be used again.",
        ),
    },
    LinkRefusal.OTHER_PERSON: {
        "zh-CN": ("这不是您的链接", "这个链接是发给另一位老师的。请使用发给您本人的消息中的链接。"),
        "en": (
            "This link is someone else's",
            "This link was sent to another person. Use the link in the message sent to you.",
        ),
    },
    LinkRefusal.ALREADY_ACKNOWLEDGED: {
        "zh-CN": ("预警已有人确认", "这条预警已由负责人员确认接手，无需再次确认。"),
        "en": (
            "Already confirmed",
            "Someone responsible has already confirmed this alert; nothing more is needed here.",
        ),
    },
}


def _language(request: Request, lang: str | None) -> Language:
    if lang in ("zh-CN", "en"):
        return "en" if lang == "en" else "zh-CN"
    accepted = request.headers.get("accept-language", "").lower()
    return "en" if accepted.startswith("en") else "zh-CN"


async def _viewer(app: Notify, request: Request) -> str | None:
    """The person_ref of a signed-in viewer, if the request carries a valid token. Verified
    as the edge verifies (off the event loop when it may fetch keys): these pages take any
    stranger's token, and the loop they would stall delivers alerts."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        principal = await authenticate(request.app.state.token_verifier, token)
    except Problem:
        return None
    return app.pseudonyms.person_ref(principal.campus_id, principal.sub)


def _page(
    app: Notify,
    view: LinkView,
    language: Language,
    action: str,
    confirmed: bool,
    now: datetime | None = None,
) -> HTMLResponse:
    if view.refusal is not None or view.link is None:
        refusal = view.refusal or LinkRefusal.FORGED
        metrics.LINKS_REFUSED.labels(refusal.value).inc()
        heading, explanation = _REFUSALS[refusal][language]
        html = app.templates.page(
            "refused", language, {"heading": heading, "explanation": explanation}
        )
        return HTMLResponse(html, status_code=_STATUS[refusal], headers=_HEADERS)
    if confirmed:
        metrics.ACKNOWLEDGED.inc()
        onward = {"case_url": app_page(app.settings.app_base_url, view.case_id)}
        return HTMLResponse(app.templates.page("confirmed", language, onward), headers=_HEADERS)
    deadline = view.link.ack_deadline
    context = {
        "severity": view.link.severity,
        "role": view.link.role,
        "deadline": deadline,
        # Past its deadline the alert was passed on to the next rung: the page says so rather
        # than "confirm by <a time gone>". The link still confirms while it lives and nobody
        # acknowledged the alert (`open_link` refused it otherwise): an owner late is better
        # than none.
        "overdue": deadline is not None and deadline <= (now or datetime.now(UTC)),
        "action": action,
    }
    return HTMLResponse(app.templates.page("ack", language, context), headers=_HEADERS)


async def _show(
    app: Notify, request: Request, *, token: str | None, code: str | None, lang: str | None
) -> HTMLResponse:
    language = _language(request, lang)
    viewer = await _viewer(app, request)  # before a connection is taken: it may wait
    now = datetime.now(UTC)
    async with worker_transaction(app.pool) as conn:
        view = await open_link(
            conn,
            app.signer,
            token=token,
            short_code=code,
            now=now,
            viewer_ref=viewer,
        )
    action = f"{request.url.path}?lang={language}"
    return _page(app, view, language, action, confirmed=False, now=now)


async def _confirm(
    app: Notify, request: Request, *, token: str | None, code: str | None, lang: str | None
) -> HTMLResponse:
    language = _language(request, lang)
    viewer = await _viewer(app, request)  # before a connection is taken: it may wait
    async with worker_transaction(app.pool) as conn:
        view = await confirm_link(
            conn,
            app.signer,
            token=token,
            short_code=code,
            now=datetime.now(UTC),
            viewer_ref=viewer,
        )
    return _page(app, view, language, request.url.path, confirmed=True)


@router.get(
    "/s/{code}", operation_id="show_ack_by_code", response_class=HTMLResponse, responses=PAGES
)
async def show_ack_by_code(
    app: App, request: Request, code: Code, lang: Lang = None
) -> HTMLResponse:
    """The page an SMS's short link opens: what is asked, and a button to confirm."""
    return await _show(app, request, token=None, code=code, lang=lang)


@router.post(
    "/s/{code}", operation_id="confirm_ack_by_code", response_class=HTMLResponse, responses=PAGES
)
async def confirm_ack_by_code(
    app: App, request: Request, code: Code, lang: Lang = None
) -> HTMLResponse:
    """Confirm from an SMS's short link."""
    return await _confirm(app, request, token=None, code=code, lang=lang)


@router.get("/{token}", operation_id="show_ack", response_class=HTMLResponse, responses=PAGES)
async def show_ack(app: App, request: Request, token: Token, lang: Lang = None) -> HTMLResponse:
    """The page a message's link opens: what is asked, and a button to confirm."""
    return await _show(app, request, token=token, code=None, lang=lang)


@router.post("/{token}", operation_id="confirm_ack", response_class=HTMLResponse, responses=PAGES)
async def confirm_ack(app: App, request: Request, token: Token, lang: Lang = None) -> HTMLResponse:
    """Confirm the alert: recorded in casework (through `notification.acknowledged`), so the
    alert stops escalating."""
    return await _confirm(app, request, token=token, code=None, lang=lang)
