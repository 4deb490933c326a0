"""Local-only secrets: generated once into the data dir's `local.env`, reused by every `make up`.

These values are for a developer machine. Services refuse default secrets outside
`SHOUWANG_ENV=local`, and nothing here has a built-in default: every value is random per machine
(or per test session).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from shouwang_contracts.crypto import generate_key

from ._proc import DevstackError

#: The shared settings every service reads without a prefix (besides Kafka and the database).
SECRET_NAMES = (
    "SHOUWANG_JWT_SECRET",
    "SHOUWANG_PSEUDONYM_KEY",
    "SHOUWANG_NOTE_KEYS",
    "SHOUWANG_PLACEMENT_KEY",
    "SHOUWANG_DB_ROLE_SECRET",
)


def generate_local_secrets() -> dict[str, str]:
    """Fresh random values for the local secrets (JWT, pseudonym key, note keyring, role secret)."""
    return {
        "SHOUWANG_JWT_SECRET": secrets.token_urlsafe(48),
        "SHOUWANG_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "SHOUWANG_NOTE_KEYS": f"local1:{generate_key()}",
        "SHOUWANG_PLACEMENT_KEY": secrets.token_urlsafe(32),
        "SHOUWANG_DB_ROLE_SECRET": secrets.token_urlsafe(32),
    }


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a `KEY=value` file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def load_or_create_local_env(path: Path) -> dict[str, str]:
    """The local secrets in `path`, generating (and saving, mode 0600) any that are missing."""
    values = read_env_file(path) if path.is_file() else {}
    missing = {k: v for k, v in generate_local_secrets().items() if k not in values}
    if missing:
        values.update(missing)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{key}={values[key]}\n" for key in sorted(values))
        path.write_text(
            "# Local-only secrets written by `shouwang-dev up`; never use them outside SHOUWANG_ENV=local.\n"
            + body,
            encoding="utf-8",
        )
        path.chmod(0o600)
    return values


def tests_role_secret(admin_dsn: str) -> str:
    """Service role passwords' secret for test sessions (and benches sharing their server):
    SHOUWANG_DB_ROLE_SECRET, else derived from the admin DSN.

    Deterministic per server, so two test sessions sharing one DATABASE_URL agree on passwords.
    """
    explicit = os.environ.get("SHOUWANG_DB_ROLE_SECRET")
    if explicit:
        return explicit
    return hashlib.sha256(b"shouwang-test-roles:" + admin_dsn.encode()).hexdigest()


def role_password(service: str, secret: str | None = None) -> str:
    """The database password of a service role: HMAC of the service name under a local secret.

    The secret is `secret`, else `SHOUWANG_DB_ROLE_SECRET`. Outside `SHOUWANG_ENV=local` a
    secret must be given explicitly (no usable default).
    """
    key = secret or os.environ.get("SHOUWANG_DB_ROLE_SECRET")
    if not key:
        if os.environ.get("SHOUWANG_ENV", "local") != "local":
            raise DevstackError(
                "SHOUWANG_DB_ROLE_SECRET is required outside SHOUWANG_ENV=local "
                "(service role passwords derive from it)"
            )
        raise DevstackError(
            "no secret for service role passwords: pass one or set SHOUWANG_DB_ROLE_SECRET "
            "(`shouwang-dev up` keeps one in local.env in SHOUWANG_DATA_DIR, default .data)"
        )
    digest = hmac.new(key.encode(), f"role-password:{service}".encode(), hashlib.sha256)
    return digest.hexdigest()
