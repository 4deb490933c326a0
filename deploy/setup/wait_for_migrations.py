"""Wait until a service's schema has every migration its release ships (an init container).

`python /app/bin/wait_for_migrations.py <service>` connects with the service's own
`<SERVICE>_DATABASE_URL` and asks yoyo which of `$SHOUWANG_REPO_ROOT/services/<service>/migrations`
are not applied yet; it exits 0 once none are, so pods of a new release start only after the
setup Job migrated their schema (and old pods keep serving meanwhile). Exits 1 after
WAIT_TIMEOUT_SECONDS (default 900), so a setup that never finishes shows as a failing init
container rather than a service writing to missing tables.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POLL_SECONDS = 3.0


def pending_migrations(dsn: str, service: str, directory: Path) -> list[str]:
    """Ids of the migrations in `directory` not yet applied in the service's schema."""
    from yoyo import get_backend, read_migrations

    parts = urlsplit(dsn)
    url = urlunsplit(
        ("postgresql+psycopg", parts.netloc, parts.path, f"schema={service}", parts.fragment)
    )
    backend = get_backend(url)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(directory)))]
    finally:
        backend.connection.close()


def main(argv: list[str]) -> int:
    """Poll until the schema is current; 0 when it is, 1 on timeout, 2 on bad usage."""
    if len(argv) != 1:
        print("usage: wait_for_migrations.py <service>", file=sys.stderr)
        return 2
    service = argv[0]
    dsn = os.environ.get(f"{service.upper()}_DATABASE_URL")
    root = Path(os.environ.get("SHOUWANG_REPO_ROOT", "/app"))
    directory = root / "services" / service / "migrations"
    if not dsn or not directory.is_dir():
        print(f"need {service.upper()}_DATABASE_URL and {directory}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + float(os.environ.get("WAIT_TIMEOUT_SECONDS", "900"))
    while True:
        try:
            pending = pending_migrations(dsn, service, directory)
            reason = f"pending: {', '.join(pending)}" if pending else ""
        except Exception as exc:  # role, schema or server not there yet: the Job is running
            pending, reason = ["?"], f"{type(exc).__name__}"
        if not pending:
            print(f"{service}: schema is current", flush=True)
            return 0
        if time.monotonic() > deadline:
            print(f"{service}: gave up waiting for migrations ({reason})", flush=True)
            return 1
        print(f"{service}: waiting for the setup Job ({reason})", flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
