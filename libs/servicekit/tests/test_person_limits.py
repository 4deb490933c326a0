"""A signed-in person's limits (docs/security/routes.md, "Left open" of the audit of
2026-12-06): every case or lookup read writes an audit row, so one stolen token or a runaway
script could read every file in its scope at machine speed and flood the audit log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.admission import route_matches
from shouwang_servicekit.ratelimits import (
    AUDITED_READS_BURST,
    AUDITED_READS_PER_HOUR,
    PERSON_REQUESTS_BURST,
    PERSON_REQUESTS_PER_MINUTE,
    PersonLimits,
    RateLimiter,
    RouteLimit,
)

from .service_apps import SECRET, small_service

router = APIRouter(prefix="/v1")


@router.get("/students/{student_ref}/file")
async def student_file(student_ref: str) -> dict[str, str]:
    return {"student_ref": student_ref}


@router.get("/things")
async def things() -> dict[str, str]:
    return {"thing": "one"}


@router.post("/notes")
async def note(text: str) -> dict[str, str]:
    """Answers 422 without `text`, as FastAPI refuses a missing query parameter."""
    return {"text": text}


AUDITED = ["GET /v1/students/{student_ref}/file"]


def _default_limits_at_one_instant() -> PersonLimits:
    """The default limits on a clock that stands still: a loop of requests is "at once",
    however slowly the machine runs the test (no refill in between)."""

    def still() -> float:
        return 1000.0

    return PersonLimits(
        RateLimiter(PERSON_REQUESTS_PER_MINUTE, 60, burst=PERSON_REQUESTS_BURST, clock=still),
        RateLimiter(AUDITED_READS_PER_HOUR, 3600, burst=AUDITED_READS_BURST, clock=still),
    )


def _token(sub: str = "T1002", campus: str = "c") -> dict[str, str]:
    token = mint_token(SECRET, sub=sub, role=Role.RESIDENCE_COUNSELOR, campus_id=campus)
    return {"Authorization": f"Bearer {token}"}


async def _client(**options: object) -> tuple[httpx.AsyncClient, CollectorRegistry]:
    options.setdefault("person_limits", _default_limits_at_one_instant())
    app, registry = small_service(router, audited_reads=AUDITED, **options)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t"), registry


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, CollectorRegistry]]:
    client, registry = await _client()
    async with client:
        yield client, registry


async def test_a_stolen_token_cannot_read_files_at_machine_speed(
    served: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    """Flat out, one token reads the burst of audited reads, then is told to wait: 429
    problem+json with `Retry-After`, counted by limit (never by person)."""
    client, registry = served
    statuses = []
    for n in range(AUDITED_READS_BURST + 20):
        answer = await client.get(f"/v1/students/s{n}/file", headers=_token())
        statuses.append(answer.status_code)
    assert statuses[:AUDITED_READS_BURST] == [200] * AUDITED_READS_BURST
    assert set(statuses[AUDITED_READS_BURST:]) == {429}

    refused = await client.get("/v1/students/s0/file", headers=_token())
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "rate_limited"
    assert "查阅学生档案和个案过于频繁" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    english = await client.get(
        "/v1/students/s0/file", headers={**_token(), "Accept-Language": "en"}
    )
    assert "Too many reads of student files and cases" in english.json()["detail"]
    refusals = registry.get_sample_value("t_rate_limited_total", {"limit": "person_audited_reads"})
    assert refusals == 20 + 2
    exposed = "\n".join(f"{s.name}{s.labels}" for m in registry.collect() for s in m.samples)
    assert "T1002" not in exposed


async def test_one_persons_flood_leaves_everyone_else_served(
    served: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    """The key is the token's campus and subject: a colleague, or the same staff number on
    another campus, reads on while one token is held back."""
    client, _ = served
    for n in range(AUDITED_READS_BURST + 1):
        await client.get(f"/v1/students/s{n}/file", headers=_token())
    assert (await client.get("/v1/students/s/file", headers=_token())).status_code == 429
    assert (await client.get("/v1/students/s/file", headers=_token("T1003"))).status_code == 200
    other_campus = _token(campus="other")
    assert (await client.get("/v1/students/s/file", headers=other_campus)).status_code == 200
    # The held-back person still does what writes no audit row.
    assert (await client.get("/v1/things", headers=_token())).status_code == 200


async def test_a_script_looping_on_any_route_is_limited_per_person(
    served: tuple[httpx.AsyncClient, CollectorRegistry],
) -> None:
    """Reads that write no audit row have a looser limit of their own, still a limit; the
    operators' paths never count."""
    client, registry = served
    statuses = [
        (await client.get("/v1/things", headers=_token())).status_code
        for _ in range(PERSON_REQUESTS_BURST + 5)
    ]
    assert statuses[:PERSON_REQUESTS_BURST] == [200] * PERSON_REQUESTS_BURST
    assert set(statuses[PERSON_REQUESTS_BURST:]) == {429}
    assert registry.get_sample_value("t_rate_limited_total", {"limit": "person"}) == 5
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_a_page_loading_many_things_at_once_is_never_slowed() -> None:
    """The default bursts take a page of thirty requests six times over at once, and thirty
    audited reads (a case page makes about five) four times over."""
    client, _ = await _client()
    async with client:
        for _ in range(6):
            for _ in range(30):
                assert (await client.get("/v1/things", headers=_token("T2001"))).status_code == 200
        for _ in range(4):
            for n in range(30):
                answer = await client.get(f"/v1/students/s{n}/file", headers=_token())
                assert answer.status_code == 200


async def test_limits_set_to_zero_are_off_and_settings_tune_them() -> None:
    assert PersonLimits.of(0, 1, 0, 1) == PersonLimits(None, None)
    client, _ = await _client(person_limits=PersonLimits.of(0, 1, 0, 1))
    async with client:
        for n in range(AUDITED_READS_BURST + 5):
            answer = await client.get(f"/v1/students/s{n}/file", headers=_token())
            assert answer.status_code == 200
    tight = PersonLimits(
        requests=None, audited_reads=RateLimiter(1, 3600, burst=2, clock=lambda: 0.0)
    )
    client, _ = await _client(person_limits=tight)
    async with client:
        statuses = [
            (await client.get("/v1/students/s/file", headers=_token())).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_a_renamed_audited_route_fails_at_start_not_silently() -> None:
    """A name that matches no route would leave the reads it meant unlimited."""
    with pytest.raises(ValueError, match=re.escape("GET /v1/students/{student_ref}/files")):
        small_service(router, audited_reads=["GET /v1/students/{student_ref}/files"])


def test_a_route_before_an_audited_one_is_not_counted_as_its_read() -> None:
    """`/v1/cases/count` comes before `/v1/cases/{case_id}` and the router sends it there;
    the edge must not spend an audited read on it because the later pattern also fits."""
    cases = APIRouter(prefix="/v1")

    @cases.get("/cases/count")
    async def count() -> dict[str, int]:
        return {"total": 0}

    @cases.get("/cases/{case_id}")
    async def case(case_id: str) -> dict[str, str]:
        return {"case_id": case_id}

    (read,) = route_matches([cases], ["GET /v1/cases/{case_id}"])
    assert read.matches("GET", "/v1/cases/c1")
    assert not read.matches("GET", "/v1/cases/count")
    assert not read.matches("POST", "/v1/cases/c1")


async def test_a_route_limit_holds_on_its_routes_only_and_says_what_it_limits() -> None:
    """Intake's reports: a limit of its own on one route, counted with the person's others
    (so across replicas with them), its refusal in its own words and metric label."""
    reports = RouteLimit(
        "reports", ("GET /v1/things",), RateLimiter(1, 3600, burst=2), ("上报", "reports")
    )
    client, registry = await _client(route_limits=[reports])
    async with client:
        statuses = [(await client.get("/v1/things", headers=_token())).status_code for _ in "abc"]
        refused = await client.get("/v1/things", headers=_token())
        elsewhere = await client.get("/v1/students/s/file", headers=_token())
        colleague = await client.get("/v1/things", headers=_token("T1003"))
    assert statuses == [200, 200, 429]
    assert "上报过于频繁" in refused.json()["detail"]
    assert elsewhere.status_code == 200
    assert colleague.status_code == 200
    assert registry.get_sample_value("t_rate_limited_total", {"limit": "reports"}) == 2


async def test_a_route_limit_gives_back_the_answers_it_names_and_the_person_limit_does_not() -> (
    None
):
    """Intake's refused reports: a 422 on a route limit's route is given back to that limit,
    an answer it does not name (200) is not, and the person's request limit counts every
    request."""
    notes = RouteLimit(
        "reports",
        ("POST /v1/notes",),
        RateLimiter(1, 3600, burst=2, clock=lambda: 0.0),
        ("上报", "reports"),
        given_back=frozenset({422}),
    )
    limits = PersonLimits(requests=RateLimiter(1, 3600, burst=7, clock=lambda: 0.0))
    client, registry = await _client(person_limits=limits, route_limits=[notes])
    async with client:
        refused = [(await client.post("/v1/notes", headers=_token())).status_code for _ in "abcd"]
        sent = [
            (await client.post("/v1/notes?text=hi", headers=_token())).status_code for _ in "abc"
        ]
        flooded = await client.post("/v1/notes", headers=_token())
    assert refused == [422] * 4
    assert sent == [200, 200, 429]  # the route's own limit, whole after four refusals
    assert flooded.status_code == 429  # the eighth request: the person's limit counted all
    assert "请求过于频繁" in flooded.json()["detail"]
    assert registry.get_sample_value("t_rate_limited_total", {"limit": "reports"}) == 1
    assert registry.get_sample_value("t_rate_limited_total", {"limit": "person"}) == 1


def test_route_limits_without_person_limits_fail_at_start_not_silently() -> None:
    reports = RouteLimit("reports", ("GET /v1/things",), RateLimiter(1, 60), ("上报", "reports"))
    with pytest.raises(ValueError, match="need person_limits"):
        small_service(router, person_limits=None, route_limits=[reports])
