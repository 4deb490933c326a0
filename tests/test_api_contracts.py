"""Every service's HTTP API keeps what its OpenAPI document promises, whatever a client sends.

Schemathesis reads each service's OpenAPI document (from its app: what it serves at
`/openapi.json`) and sends the running service generated requests:
schema-valid ones, boundary values, and ones that break the schema on purpose. Every answer
is checked: never a 5xx (a client can never cause a server error), only documented status
codes and content types, bodies that match their documented schemas, invalid input refused,
and no operation that answers without a valid bearer token. The stateful run follows the
links between operations (a report accepted, then its receipt read) the way a client would.

The gateway's sign-in operations (public by design: they are how a browser gets a session)
are run the same way; its forwarding of `/api/<service>/...` is the services' own contract.

The services are real processes on the session's real Kafka and PostgreSQL. Requests carry
a valid token of every role in turn (most often one the operation admits, so that generated
data reaches the code behind the role checks; every other role too, whose refusals must be
documented problems) and, in bodies that name a campus, the token's campus.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
from shouwang_casework.main import create_app as casework_app
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack.pytest_plugin import ServiceProcessFactory
from shouwang_devstack.services import ServiceProcess
from shouwang_gateway.main import create_app as gateway_app
from shouwang_intake.main import create_app as intake_app
from shouwang_notify.main import create_app as notify_app
from shouwang_stats.main import create_app as stats_app
from shouwang_triage.main import create_app as triage_app

CAMPUS = "fuzz"
SERVICES = ("intake", "triage", "casework", "notify", "stats", "gateway")
# Schema-valid requests that the service rightly refuses all the same (an empty census
# file, a student nobody registered) are not failures: the schema cannot say everything.
EXCLUDED = [positive_data_acceptance]
# A body past a service's size limit is refused with 413 before it is read, whatever it holds:
# that is a rejection of invalid data too (schemathesis' default list leaves 413 out).
_REJECTIONS = SchemathesisConfig().projects.get_default().checks.negative_data_rejection
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [*_REJECTIONS.expected_statuses, "413"]
            }
        }
    }
)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
STATEFUL = settings(
    max_examples=15,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def role_for(path: str) -> Role:
    """A role each operation admits, so generated requests get past the role check."""
    if path.startswith(("/v1/roster", "/v1/contacts", "/v1/settings")):
        return Role.CAMPUS_ADMIN
    if path == "/v1/audit":
        return Role.AUDITOR
    # Reports, screenings, cases, files, break-glass reviews, deliveries, outcomes.
    return Role.COUNSELING_CENTER


@pytest.fixture(scope="module")
def platform(
    module_service_process: ServiceProcessFactory, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ServiceProcess]:
    # The gateway's sign-in answers redirect to pages of the web app: a stand-in page.
    web_root = tmp_path_factory.mktemp("web")
    (web_root / "index.html").write_text("<!doctype html><title>守望</title>", encoding="utf-8")
    env = {
        "GATEWAY_WEB_ROOT": str(web_root),
        "CASEWORK_CAMPUSES": json.dumps([CAMPUS]),
        "SHOUWANG_JWT_SECRET": SECRET,
        # Generated requests come by the thousand from one address, many without a token
        # (the auth checks) and many reports from one reporter, each role one person: no
        # limit in this run.
        "SHOUWANG_UNAUTHENTICATED_PER_MINUTE": "0",
        "SHOUWANG_PER_PERSON_PER_MINUTE": "0",
        "SHOUWANG_AUDITED_READS_PER_HOUR": "0",
        "INTAKE_REPORTS_PER_REPORTER_PER_HOUR": "1000000",
    }
    started = {name: module_service_process(name, env) for name in SERVICES}
    # All six start at once and are then waited for: their imports and connections overlap
    # instead of queueing one service behind another.
    for process in started.values():
        process.launch()
    for process in started.values():
        process.wait_ready()
    return started


# The services of this module trust this secret, and schemathesis builds some cases while
# pytest collects, before any fixture runs: so the tokens exist from import on.
SECRET = secrets.token_urlsafe(48)
TOKENS = {
    role: mint_token(SECRET, sub=f"fuzz-{role.value}", role=role, campus_id=CAMPUS) for role in Role
}


def _roles_for(path: str) -> Iterator[Role]:
    """Every role in turn, the one the operation admits every other time."""
    admitted = role_for(path)
    others = itertools.cycle([r for r in Role if r is not admitted])
    while True:
        yield admitted
        yield next(others)


_TURNS: dict[str, Iterator[Role]] = {}
# Set while a stateful scenario runs: the tokens its calls carry, by role (see the test).
_SCENARIO_TOKENS: dict[Role, str] = {}


class _Bearer:
    """Schemathesis' auth provider: a valid token of each role in turn (see the module).
    (The `ignored_auth` check still sends each operation without it, and with a broken one.)"""

    def get(self, case: Any, context: Any) -> str:
        if _SCENARIO_TOKENS:
            return _SCENARIO_TOKENS[role_for(case.path)]
        turns = _TURNS.get(case.path)
        if turns is None:
            turns = _TURNS[case.path] = _roles_for(case.path)
        return TOKENS[next(turns)]

    def set(self, case: Any, token: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


def _in_our_campus(context: Any, body: Any) -> Any:
    """Bodies name the token's campus (a string `campus_id` only: a negative case that broke
    the field's type must stay broken)."""
    if isinstance(body, dict) and isinstance(body.get("campus_id"), str):
        return {**body, "campus_id": CAMPUS}
    return body


def _api(create_app: Any) -> Any:
    """A service's OpenAPI document as its app generates it: the same one it serves."""
    schema = schemathesis.openapi.from_dict(create_app().openapi(), config=CONFIG)
    schema.hook("map_body")(_in_our_campus)
    schema.auth(refresh_interval=None)(_Bearer)
    return schema


APIS = {
    "intake": _api(intake_app),
    "triage": _api(triage_app),
    "casework": _api(casework_app),
    "notify": _api(notify_app),
    "gateway": _api(gateway_app),
    "stats": _api(stats_app),
}


def _call(case: Any, platform: dict[str, ServiceProcess], service: str) -> None:
    case.call_and_validate(base_url=platform[service].base_url, excluded_checks=EXCLUDED)


@APIS["intake"].parametrize()
@FUZZ
def test_intake_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "intake")


@APIS["triage"].parametrize()
@FUZZ
def test_triage_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "triage")


@APIS["casework"].parametrize()
@FUZZ
def test_casework_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "casework")


@APIS["notify"].parametrize()
@FUZZ
def test_notify_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "notify")


@APIS["gateway"].parametrize()
@FUZZ
def test_gateway_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "gateway")


@APIS["stats"].parametrize()
@FUZZ
def test_stats_keeps_its_contract(case: Any, platform: Any) -> None:
    _call(case, platform, "stats")


@pytest.mark.parametrize("service", ["intake", "casework"])  # triage has one operation
def test_linked_calls_keep_the_contract(service: str, platform: dict[str, ServiceProcess]) -> None:
    """Sequences of calls, each fed by an earlier answer (an id from a Location header)."""
    base_url = platform[service].base_url

    scenarios = itertools.count()

    class Client(APIS[service].as_state_machine()):  # type: ignore[misc]
        # Hypothesis replays and extends earlier scenarios and fails as "flaky" when a replay
        # takes another turn. A scenario's calls therefore depend on nothing outside it: always
        # the role each operation admits (so what one call creates is there for the next; other
        # roles' refusals are the per-operation tests' part) and users of its own, whose
        # per-user state (break-the-glass quotas, rate limits) starts empty.
        def setup(self) -> None:
            scenario = next(scenarios)
            _SCENARIO_TOKENS.update(
                {
                    role: mint_token(
                        SECRET, sub=f"fuzz-{scenario}-{role.value}", role=role, campus_id=CAMPUS
                    )
                    for role in Role
                }
            )

        def teardown(self) -> None:
            _SCENARIO_TOKENS.clear()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url}

        def validate_response(self, response: Any, case: Any, *_: Any, **kwargs: Any) -> None:
            case.validate_response(
                response,
                excluded_checks=EXCLUDED,
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    try:
        Client.run(settings=STATEFUL)
    except FlakyStrategyDefinition:
        # What is left of shared state (rows an earlier scenario made in the services' tables)
        # can still turn a replay; that is no contract failure. Run fresh sequences once more: a
        # broken contract fails again, as a check failure.
        Client.run(settings=settings(STATEFUL, derandomize=False))
