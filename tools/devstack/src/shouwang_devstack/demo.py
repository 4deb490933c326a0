"""The demo campus `demo`: its people, its files, and a client of the running platform.

`make up` loads the campus from the repository's `samples/` through the services' own import
APIs (casework's roster, notify's contacts), so every case opens with a real owner and every
message has someone to reach; loading again changes nothing (each import of the same file is
a no-op). `make demo` (`term.py`) plays a term against the same platform, through the same
public APIs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

from ._proc import DevstackError, data_dir, repo_root
from .localenv import read_env_file
from .services import REGISTRY, reachable_host, service_host, service_port
from .words import text, value_label

DEMO_CAMPUS = "demo"

#: Who plays each role on the demo campus: people of samples/roster_staff.csv (the holders for
#: 8号楼 and the whole campus), the same as the gateway's demo sign-ins.
DEMO_PEOPLE: dict[Role, str] = {
    Role.DORM_LEADER: "2024020001",
    Role.FLOOR_LEADER: "2024030002",
    Role.CLASS_WELLBEING_OFFICER: "2024010003",
    Role.RESIDENCE_COUNSELOR: "T1002",
    Role.COMMUNITY_PSYCH_TEACHER: "T2001",
    Role.COUNSELING_CENTER: "T3001",
    Role.COLLEGE_LEADER: "T4001",
    Role.CAMPUS_ADMIN: "A0001",
    Role.AUDITOR: "U0001",
    Role.PLATFORM_ADMIN: "P0001",
}

#: Grants a demo person's token must carry: stats reads a college leader's colleges from the
#: token alone (the roster's 学院 of T4001; the gateway's demo sign-in carries the same).
DEMO_SCOPES: dict[Role, tuple[str, ...]] = {Role.COLLEGE_LEADER: ("college:土木建筑工程学院",)}

#: (service, path, sample file) in the order the campus is loaded: the roster first, so the
#: directory notify routes by exists before its contacts.
IMPORTS: tuple[tuple[str, str, str], ...] = (
    ("casework", "/v1/roster/students", "roster_students.csv"),
    ("casework", "/v1/roster/staff", "roster_staff.csv"),
    ("notify", "/v1/imports/staff-contacts", "contacts_staff.csv"),
    ("notify", "/v1/imports/family-contacts", "contacts_family.csv"),
)

#: The demo campus's ladder (triage's campus file): seconds instead of hours, so an
#: unacknowledged alert visibly climbs while `make demo` runs. Local only.
DEMO_LADDER = Path(__file__).with_name("demo_campus.yaml")
#: Test-only: another campus file in its place (the e2e scenario's, whose ladder is shorter).
DEMO_LADDER_ENV = "SHOUWANG_TEST_DEMO_LADDER"


def samples_dir(root: Path | None = None) -> Path:
    """The repository's sample exports."""
    return (root or repo_root()) / "samples"


def service_urls(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where `up` runs each service (the same `<SVC>_PORT` / `<SVC>_HOST` it reads)."""
    return {
        info.name: f"http://{reachable_host(service_host(info, environ))}:{service_port(info, environ)}"
        for info in REGISTRY.values()
    }


def token_command(role: Role, campus: str = DEMO_CAMPUS) -> str:
    """The shell command that mints a local token for the demo person holding `role`."""
    grants = "".join(f" --scope {grant}" for grant in DEMO_SCOPES.get(role, ()))
    return (
        f"uv run shouwang-token --role {role.value} --campus {campus}"
        f" --sub {DEMO_PEOPLE[role]}{grants}"
    )


@dataclass
class DemoClient:
    """The running platform as a demo user sees it: service URLs and local tokens."""

    secret: str
    urls: dict[str, str]
    data: Path
    campus: str = DEMO_CAMPUS
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    @classmethod
    def from_running(cls, root: Path | None = None) -> DemoClient:
        """The platform a `make up` runs: its local secrets and the ports it reads."""
        root = root or repo_root()
        data = data_dir(root)
        env_file = data / "local.env"
        if not env_file.is_file():
            raise DevstackError(text("no_env_file", path=env_file))
        secret = os.environ.get("SHOUWANG_JWT_SECRET") or read_env_file(env_file).get(
            "SHOUWANG_JWT_SECRET", ""
        )
        return cls(secret=secret, urls=service_urls(), data=data)

    def check_running(self) -> None:
        """Raise DevstackError naming every service that does not answer `/readyz` (no `make
        up` running, or one still starting), before a term is counted or anything is sent."""
        silent = []
        for name, url in self.urls.items():
            try:
                ready = self.http.get(url + "/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                ready = False
            if not ready:
                silent.append(f"{name} {url}")
        if silent:
            raise DevstackError(text("not_running", silent=", ".join(silent)))

    def headers(self, role: Role, sub: str | None = None) -> dict[str, str]:
        token = mint_token(
            self.secret,
            sub=sub or DEMO_PEOPLE[role],
            role=role,
            campus_id=self.campus,
            scope=list(DEMO_SCOPES.get(role, ())),
        )
        return {"Authorization": f"Bearer {token}"}

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path

    def close(self) -> None:
        self.http.close()


def load_demo_campus(client: DemoClient, samples: Path) -> list[str]:
    """Import the sample roster and contacts as the campus admin; one line per file.

    Raises DevstackError with the service's problem when an import is refused.
    """
    admin = client.headers(Role.CAMPUS_ADMIN)
    lines = []
    for service, path, name in IMPORTS:
        answer = client.http.post(
            client.url(service, path),
            files={"file": (name, (samples / name).read_bytes(), "text/csv")},
            headers=admin,
        )
        if answer.status_code not in (200, 201):
            raise DevstackError(
                text(
                    "campus_refused",
                    service=service,
                    name=name,
                    status=answer.status_code,
                    body=answer.text[:500],
                )
            )
        body = answer.json()
        counts = body.get("counts") or {"rows": body.get("rows_total", 0)}
        what = text("count_separator").join(
            f"{value_label('import_count', key)} {value}" for key, value in counts.items()
        )
        lines.append(text("campus_import", name=name, service=service, path=path, counts=what))
    return lines
