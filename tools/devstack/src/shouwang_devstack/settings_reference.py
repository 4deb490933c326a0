"""`docs/configuration.md`: every environment variable each service reads, from its settings class.

    uv run python -m shouwang_devstack.settings_reference          # write docs/configuration.md
    uv run python -m shouwang_devstack.settings_reference --check  # exit 1 when it is stale

The README's Configuration tables explain the variables an operator meets first; service
READMEs explain their own. This page is the index behind them, written from the code so it
cannot drift: name, default (secrets shown as "local only", never their value) and the
setting's own description where it has one (else the document that explains it). `tools/devstack/tests/test_settings_reference.py`
fails when the committed page differs from what this writes, and when a README's table names a
variable no service reads or states another default than the code's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ._proc import repo_root

SERVICES = ("intake", "triage", "casework", "notify", "stats", "gateway")
PAGE = Path("docs/configuration.md")
# Shared keys a service may leave out of SECRETS_IN_USE (it never reads them, however set).
_OPTIONAL_KEYS = {"SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS", "SHOUWANG_PLACEMENT_KEY"}
# Where a setting without a description of its own is explained (the page is written from the
# code alone, so another file's wording never makes it stale).
_HOME = {
    "intake": "README.md, Configuration",
    **{
        s: f"`services/{s}/README.md`" for s in ("triage", "casework", "notify", "stats", "gateway")
    },
}
# What every service's variables of these names mean (the README's `<SVC>_...` rows).
_EVERY_SERVICE = {
    "_HOST": "where the service listens",
    "_PORT": "where the service listens",
    "_DATABASE_URL": "the service's own role and schema (`make up` and the tests set it)",
    "_DB_POOL_MIN": "PostgreSQL connections the service keeps open at least",
    "_DB_POOL_MAX": "PostgreSQL connections the service opens at most",
}


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable of one service's settings."""

    name: str
    default: str
    meaning: str


def settings_class(service: str) -> type[Any]:
    """The pydantic-settings class of `service` (`shouwang_<service>.config`)."""
    module = importlib.import_module(f"shouwang_{service}.config")
    for name, value in vars(module).items():
        if name.endswith("Settings") and name != "SharedSettings" and isinstance(value, type):
            return value
    raise LookupError(f"shouwang_{service}.config has no settings class")


def env_name(cls: type[Any], name: str, field: FieldInfo) -> str:
    """The variable a field is read from: its alias, else the class's prefix and its name."""
    alias = field.validation_alias
    if alias is not None:
        choices = getattr(alias, "choices", None)
        return str(choices[0]) if choices else str(alias)
    return f"{cls.model_config.get('env_prefix', '')}{name}".upper()


def _shown(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: object = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "local only" if value.get_secret_value() else "unset"
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(repo_root()):
        # A default inside the checkout (the gateway's web/dist): the page is the same in
        # every clone.
        return f"`<repo>/{value.relative_to(repo_root()).as_posix()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    return f"`{json.dumps(value, ensure_ascii=False, default=str)}`"


def _description(cls: type[Any], name: str) -> str:
    """The field's description, or the one of the class it overrides (a default changed)."""
    for klass in cls.__mro__:
        field = getattr(klass, "model_fields", {}).get(name)
        if field is not None and field.description:
            return str(field.description)
    return ""


def variables(service: str) -> list[Variable]:
    """Every variable `service` reads, in the order its settings class declares them."""
    cls = settings_class(service)
    in_use: frozenset[str] = getattr(cls, "SECRETS_IN_USE", frozenset(_OPTIONAL_KEYS))
    out = []
    for name, field in cls.model_fields.items():
        env = env_name(cls, name, field)
        if env in _OPTIONAL_KEYS and env not in in_use:
            continue  # a key this service never uses: not handed to it in production
        said = _description(cls, name) or next(
            (m for end, m in _EVERY_SERVICE.items() if env.endswith(end)), f"see {_HOME[service]}"
        )
        meaning = " ".join(said.split()).replace("|", "\\|")
        out.append(Variable(env, _shown(field), meaning))
    return out


def render() -> str:
    """The page: the variables every service shares once, then each service's own."""
    per_service = {service: variables(service) for service in SERVICES}
    readers: dict[str, list[str]] = {}
    for service, found in per_service.items():
        for var in found:
            readers.setdefault(var.name, []).append(service)
    shared = [n for n, who in readers.items() if len(who) > 1]
    lines = [
        "# Configuration reference",
        "",
        "Written by `uv run python -m shouwang_devstack.settings_reference` from each service's",
        "settings class; do not edit (a test fails when it is stale). What the variables an",
        "operator meets first mean: the README's Configuration; a service's own: its README",
        "(`services/<service>/README.md`); what a production deployment must set:",
        "`deploy/README.md`. Secrets show as *local only*: their built-in values serve",
        "`make up` and the tests, and every service refuses to start on them outside",
        "`SHOUWANG_ENV=local`/`test`.",
        "",
        "## Read by more than one service",
        "",
        "| variable | default | read by |",
        "|---|---|---|",
    ]
    defaults = {
        name: {v.default for s in who for v in per_service[s] if v.name == name}
        for name, who in readers.items()
    }
    for name in shared:
        default = next(iter(defaults[name])) if len(defaults[name]) == 1 else "per service"
        lines.append(f"| `{name}` | {default} | {', '.join(readers[name])} |")
    for service, found in per_service.items():
        lines += ["", f"## {service}", "", "| variable | default | meaning |", "|---|---|---|"]
        for var in found:
            if var.name in shared and len(defaults[var.name]) == 1:
                continue  # in the shared table, with the one default every service has
            lines.append(f"| `{var.name}` | {var.default} | {var.meaning} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    args = parser.parse_args(argv)
    path = repo_root() / PAGE
    page = render()
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != page:
            print(f"{PAGE} is stale: run python -m shouwang_devstack.settings_reference")
            return 1
        return 0
    path.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
