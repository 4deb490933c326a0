"""docs/security/routes.md lists every HTTP route of every service, and says what the app does.

A route added without a row (or a row left behind by a route that is gone) fails here, so the
auditors' page cannot drift from the code; so does a row whose `Auth` column disagrees with the
edge (`/v1/...` needs a token, the rest is public or a link's page) or whose `Edge roles` are
not exactly the roles the route's `require_roles(...)` admits. Builds the apps, starts none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from shouwang_casework.main import create_app as casework_app
from shouwang_gateway.main import create_app as gateway_app
from shouwang_intake.main import create_app as intake_app
from shouwang_notify.main import create_app as notify_app
from shouwang_servicekit.edge import AUTHENTICATED_PREFIX
from shouwang_servicekit.security import _declared_roles
from shouwang_stats.main import create_app as stats_app
from shouwang_triage.main import create_app as triage_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "security" / "routes.md"
APPS: dict[str, Callable[[], FastAPI]] = {
    "intake": intake_app,
    "triage": triage_app,
    "casework": casework_app,
    "notify": notify_app,
    "stats": stats_app,
    "gateway": gateway_app,
}
# FastAPI's own documentation pages: the API's shape, public by design (the page says so).
FASTAPI_DOCS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
Row = tuple[str, str, str]  # service, method, path


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every APIRoute of the app, through included routers however FastAPI nests them."""

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            effective = getattr(route, "effective_candidates", None)
            if effective is not None:
                # An included router: its routes as served, under every prefix on the way
                # (a router included in a router included in the app), not as declared.
                yield from walk(effective())
            elif isinstance(getattr(route, "original_route", route), APIRoute):
                yield route

    yield from walk(app.routes)


def _template(path: str) -> str:
    """`/v1/x/{batch_id:uuid}` as the page writes it: `/v1/x/{batch_id}`."""
    return re.sub(r"\{(\w+):(?!app_path)\w+\}", r"{\1}", path).replace(":app_path", "")


def _documented() -> dict[Row, dict[str, str]]:
    rows: dict[Row, dict[str, str]] = {}
    service = ""
    header: list[str] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## (\w+)", line)
        if heading:
            service, header = heading[1], []
            continue
        if service not in APPS or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        row = dict(zip(header, cells, strict=True))
        for method in row["Method"].split(","):
            key = (service, method.strip(), row["Path"].strip("`"))
            assert key not in rows, f"{key} is listed twice"
            rows[key] = row
    return rows


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[Row, APIRoute]:
    patch = pytest.MonkeyPatch()
    patch.setenv("SHOUWANG_JWT_SECRET", "route-inventory-" + "x" * 32)
    patch.setenv("GATEWAY_WEB_ROOT", str(tmp_path_factory.mktemp("web")))
    try:
        apps = {name: build() for name, build in APPS.items()}
    finally:
        patch.undo()
    served = {}
    for name, app in apps.items():
        for route in _routes(app):
            if route.path in FASTAPI_DOCS:
                continue
            for method in route.methods - {"HEAD"}:
                served[(name, method, _template(route.path))] = route
    return served


def test_every_route_has_a_row_and_every_row_a_route(served: dict[Row, APIRoute]) -> None:
    documented = _documented()
    assert sorted(set(served) - set(documented)) == [], "routes missing from routes.md"
    assert sorted(set(documented) - set(served)) == [], "rows of routes.md with no route"


def test_auth_and_edge_roles_are_what_the_apps_enforce(served: dict[Row, APIRoute]) -> None:
    documented = _documented()
    for key, route in served.items():
        row = documented[key]
        service, _, path = key
        if service != "gateway":
            expected = (
                "token"
                if path.startswith(AUTHENTICATED_PREFIX)
                else "link"
                if path.startswith("/ack/")
                else "public"
            )
            assert row["Auth"] == expected, key
        declared = _declared_roles(route.dependant)
        listed = set(re.findall(r"`(\w+)`", row["Edge roles"]))
        assert listed == {r.value for r in declared or ()}, key
