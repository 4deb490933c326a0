"""What the web app reads of the services, exported from their code: each service's OpenAPI
document (from its app, built and never run: the document it serves at `/openapi.json`) and
the vocabulary the desk decides with (the contract's, and casework's tiers for working cases and
overriding consent). `export` writes them under web/src/; `check` fails when a committed file
differs from what the code produces (then run `make web-contracts`).

uv run python web/scripts/contracts.py export
uv run python web/scripts/contracts.py check

It lives with the web app because it is the one reader of every service at once: no service
imports another, and libs/ imports none.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parent.parent
OPENAPI_DIR = WEB / "src" / "api" / "openapi"
VOCABULARY_FILE = WEB / "src" / "domain" / "vocabulary.json"
SERVICES = ("intake", "triage", "casework", "notify", "stats", "gateway")


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _settings_free_environment() -> None:
    """Build every app from its defaults: a developer's shell (SHOUWANG_*, CASEWORK_*, ...) must
    not change what is committed."""
    prefixes = ("SHOUWANG_", "KAFKA_", *(f"{name.upper()}_" for name in SERVICES))
    for key in [k for k in os.environ if k.startswith(prefixes)]:
        del os.environ[key]


def _apps() -> dict[str, Callable[[], Any]]:
    """Each service's `create_app`, by the one name its package follows."""
    return {name: import_module(f"shouwang_{name}.main").create_app for name in SERVICES}


def vocabulary() -> dict[str, Any]:
    """The contract's vocabulary and casework's tiers (its guards and referral rules)."""
    from shouwang_casework.domain.guards import Actor, may_work_cases
    from shouwang_casework.domain.referral import OVERRIDE_MIN_TIER
    from shouwang_contracts.vocabulary import Role, Tier
    from shouwang_contracts.webvocab import web_vocabulary

    work_min_tier = min(
        tier for tier in Tier if may_work_cases(Actor("web", Role(tier.role), in_scope=True))
    )
    return {
        **web_vocabulary(),
        "casework": {
            "work_min_tier": int(work_min_tier),
            "override_min_tier": int(OVERRIDE_MIN_TIER),
        },
    }


def render_all() -> dict[Path, str]:
    """Path → text of every file this script owns."""
    _settings_free_environment()
    rendered = {
        OPENAPI_DIR / f"{name}.json": _json(create_app().openapi())
        for name, create_app in _apps().items()
    }
    rendered[VOCABULARY_FILE] = _json(vocabulary())
    return rendered


def stale(rendered: dict[Path, str]) -> list[str]:
    """Files missing, different, or (OpenAPI documents) no longer produced."""
    found = [
        path
        for path, text in rendered.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    found += [p for p in OPENAPI_DIR.glob("*.json") if p not in rendered]
    return sorted(str(p.relative_to(WEB)) for p in found)


def export(rendered: dict[Path, str]) -> None:
    OPENAPI_DIR.mkdir(parents=True, exist_ok=True)
    for old in OPENAPI_DIR.glob("*.json"):
        if old not in rendered:
            old.unlink()
    for path, text in rendered.items():
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["export", "check"])
    args = parser.parse_args(argv)
    rendered = render_all()
    if args.command == "export":
        export(rendered)
        return 0
    out_of_date = stale(rendered)
    if out_of_date:
        print(
            "the web app's copies of the services' contracts are stale (run `make web-contracts`):",
            ", ".join(out_of_date),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
