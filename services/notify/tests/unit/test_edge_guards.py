"""Threat: a student's token uploads a file to a campus admin's contacts import, and notify
reads it to disk before the route's role dependency refuses it. The kit's edge refuses a role
before the body is read, for the routes of the routers the app lists; the contacts imports and
the campus settings were for a day in a router inside another, which the edge never saw."""

from __future__ import annotations

import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_notify.main import ROUTERS
from shouwang_servicekit.security import role_guards

ADMIN_ONLY = [
    ("POST", "/v1/imports/family-contacts"),
    ("POST", "/v1/imports/staff-contacts"),
    ("GET", "/v1/imports"),
    ("PUT", "/v1/settings/family-messages"),
    ("PUT", "/v1/settings/digest-hour"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY)
def test_a_student_cannot_land_an_upload_on_an_admin_route_before_the_edge_refuses_it(
    method: str, path: str
) -> None:
    guards = role_guards(ROUTERS)
    assert any(g.refuses(method, path, Role.DORM_LEADER) for g in guards), (method, path)
    assert not any(g.refuses(method, path, Role.CAMPUS_ADMIN) for g in guards), (method, path)
