"""The built web app: files from `web/dist`, the app's page for every route it draws itself,
and the security headers every answer of the gateway carries.

Hashed assets are served for a year, precompressed (`.br`, `.gz`, written by the build) when
the browser takes that encoding; pages are revalidated on every load so a new release is
picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from shouwang_servicekit.problems import Problem
from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_auth import app_deps

router = APIRouter(include_in_schema=False)

# Paths the app never draws: an unknown one there is a 404, not the app's page.
_NOT_APP = ("api/", "auth/", "ack/", ".well-known/", "assets/")


class _AppPath(Convertor[str]):
    """A path the web app may own: not one under the API's prefixes, so that the catch-all
    below never claims them (a 405 there lists only the methods the API route takes)."""

    regex = r"(?!(?:api|auth|ack|\.well-known)/).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("app_path", _AppPath())
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}


def _within(root: Path, relative: str) -> Path | None:
    """The file `relative` names under `root`, never outside it (no `..`, no symlink out)."""
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _file_answer(request: Request, path: Path, *, immutable: bool) -> Response:
    accepted = request.headers.get("accept-encoding", "")
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
        "Vary": "Accept-Encoding",
    }
    media_type = _MEDIA_TYPES.get(path.suffix)
    for encoding, suffix in _ENCODINGS:
        packed = path.with_name(path.name + suffix)
        if encoding in accepted and packed.is_file():
            headers["Content-Encoding"] = encoding
            return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


@router.api_route("/{path:app_path}", methods=["GET", "HEAD"])
async def web_app(request: Request, path: str) -> Response:
    """A file of the built app, or the app's page for the routes it draws itself."""
    root = app_deps(request).settings.web_root.resolve()
    found = _within(root, path) if path else None
    if found is not None:
        return _file_answer(request, found, immutable=path.startswith("assets/"))
    if path.startswith(_NOT_APP):
        raise Problem(404, "not_found", "没有这个地址", detail_en="No such resource")
    index = root / "index.html"
    if not index.is_file():
        raise Problem(
            503,
            "web_app_not_built",
            "网页尚未构建：请在 web/ 目录运行 npm ci && npm run build",
            detail_en="The web app is not built: run npm ci && npm run build in web/",
        )
    return _file_answer(request, index, immutable=False)


# What pages may load and where they may send data: this origin only. Vant and Element Plus
# set inline style attributes, hence 'unsafe-inline' for styles (never for scripts).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


#: Once a browser has been served over https, it refuses plain http to this host for a year:
#: a network attacker cannot answer a later visit over http with a false sign-in page.
#: No `includeSubDomains`: other hosts of a college's domain are not ours to pin.
STRICT_TRANSPORT = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP answer (pages, API, errors alike), and with
    `https` (the gateway is served over https: Secure cookies) `STRICT_TRANSPORT`."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = (*SECURITY_HEADERS, STRICT_TRANSPORT) if https else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *((n, v) for n, v in self.headers if n not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
