"""SQL statements per report, by service: `pg_stat_statements` read over a benchmark's window.

Every statement a service sends is a round trip, parse and plan work in PostgreSQL (unless
prepared and cached on the connection) and often WAL; on two cores PostgreSQL is the largest
share of a report's CPU, so a benchmark says which statements it ran and how often. The bench's
PostgreSQL is started with the module preloaded (`PRELOAD`); `reset()` before the measured run,
`read()` after. Each service has a database of its own (`t_<service>_<hex>`), which names the
service a statement came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

#: The settings that load pg_stat_statements into the bench's PostgreSQL at start.
PRELOAD: dict[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.max": "5000",
    # BEGIN, COMMIT and SAVEPOINT are round trips too.
    "pg_stat_statements.track_utility": "on",
}

_SERVICE = re.compile(r"^t_(?P<service>[a-z]+)_[0-9a-f]{8}$")


@dataclass(frozen=True)
class Statement:
    service: str
    query: str
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def service_of(database: str) -> str | None:
    """The service whose database this is (`t_casework_1a2b3c4d` -> casework), else None."""
    match = _SERVICE.match(database)
    return match["service"] if match else None


def reset(admin_dsn: str) -> None:
    """Create the extension (once) and zero its counters."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        try:
            conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.errors.ObjectNotInPrerequisiteState as exc:
            raise SystemExit(
                "--statements: the PostgreSQL named by DATABASE_URL does not preload "
                "pg_stat_statements (shared_preload_libraries); leave DATABASE_URL unset "
                "and the bench starts one that does"
            ) from exc


def read(admin_dsn: str) -> list[Statement]:
    """Every statement the services ran since `reset()`, most called first."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.datname, s.query, s.calls, s.total_exec_time"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " ORDER BY s.calls DESC"
        ).fetchall()
    found = []
    for database, query, calls, total in rows:
        service = service_of(database)
        if service is not None:
            found.append(Statement(service, " ".join(query.split()), int(calls), float(total)))
    return found


def print_table(statements: list[Statement], reports: int, top: int = 40) -> None:
    """Calls per report and mean time, by service, then each service's busiest statements."""
    if not reports:
        print("statements: no report completed")
        return
    services = sorted({s.service for s in statements})
    print(f"SQL statements per completed report ({reports} reports), by service:")
    print(f"{'service':<12}{'statements':>12}{'calls/report':>14}{'ms/report':>11}")
    for service in services:
        mine = [s for s in statements if s.service == service]
        calls = sum(s.calls for s in mine)
        total = sum(s.total_ms for s in mine)
        print(f"{service:<12}{len(mine):>12}{calls / reports:>14.2f}{total / reports:>11.3f}")
    calls = sum(s.calls for s in statements)
    total = sum(s.total_ms for s in statements)
    print(f"{'all':<12}{len(statements):>12}{calls / reports:>14.2f}{total / reports:>11.3f}")
    # Time in a statement includes waiting for locks, so the longest are not always the
    # costliest in CPU: both orders are printed.
    for title, key in (
        ("most called", lambda s: s.calls),
        ("longest in total (lock waits included)", lambda s: s.total_ms),
    ):
        print(f"statements, {title}:")
        print(f"{'service':<10}{'calls/report':>13}{'mean ms':>9}  statement")
        for s in sorted(statements, key=key, reverse=True)[:top]:
            text = s.query if len(s.query) <= 110 else s.query[:107] + "..."
            print(f"{s.service:<10}{s.calls / reports:>13.2f}{s.mean_ms:>9.3f}  {text}")
