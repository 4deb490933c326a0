"""`shouwang-token`: mint a local HS256 token for development and tests.

uv run shouwang-token --role dorm_leader --campus demo --sub s1
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role

from ..config import IntakeSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a local Shouwang access token (HS256).")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--campus", required=True, help="campus_id claim")
    parser.add_argument("--sub", required=True, help="subject: 工号 or 学号 of the user")
    parser.add_argument(
        "--scope", action="append", default=[], help="grant like building:8号楼 (repeatable)"
    )
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds until expiry")
    args = parser.parse_args(argv)
    _adopt_local_env()
    settings = IntakeSettings()
    if settings.env == "production" or settings.jwt_secret is None:
        print("shouwang-token mints local tokens only (SHOUWANG_ENV=local)", file=sys.stderr)
        return 2
    print(
        mint_token(
            settings.jwt_secret.get_secret_value(),
            sub=args.sub,
            role=Role(args.role),
            campus_id=args.campus,
            scope=args.scope,
            ttl_seconds=args.ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )
    return 0


def _adopt_local_env() -> None:
    """Use the secrets `make up` generated unless the environment has some: `local.env` in
    `SHOUWANG_DATA_DIR` when set (as `make up` does), else in the nearest `.data` above."""
    if "SHOUWANG_JWT_SECRET" in os.environ:
        return
    moved = os.environ.get("SHOUWANG_DATA_DIR", "").strip()
    here = Path.cwd()
    folders = [Path(moved).expanduser()] if moved else [f / ".data" for f in (here, *here.parents)]
    for folder in folders:
        env_file = folder / "local.env"
        if env_file.is_file():
            for line in env_file.read_text(encoding="utf-8").splitlines():
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    os.environ.setdefault(key.strip(), value.strip())
            return


if __name__ == "__main__":
    raise SystemExit(main())
