"""The configuration the docs promise is the configuration the code reads.

`docs/configuration.md` is written from the settings classes (a stale page fails here), and the
README's Configuration tables may name only variables something reads, with the code's defaults.
An operator who sets a variable the code never reads changes nothing and is not told.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shouwang_devstack import settings_reference
from shouwang_devstack.settings_reference import SERVICES, render, variables

ROOT = Path(__file__).resolve().parents[3]
# Read outside the services' settings classes: the devstack (`make up`, `shouwang-dev`), the
# log set-up, uvicorn, the command-line tools' language.
NOT_IN_SETTINGS = {
    "LOG_LEVEL",
    "FORWARDED_ALLOW_IPS",
    "SHOUWANG_KAFKA_PORT",
    "SHOUWANG_KAFKA_CONTROLLER_PORT",
    "SHOUWANG_POSTGRES_PORT",
    "SHOUWANG_DATA_DIR",
    "SHOUWANG_DB_ROLE_SECRET",
    "SHOUWANG_LANG",
}


def _configuration_rows() -> list[tuple[list[str], list[str]]]:
    """(variables, backticked defaults) of each row of the README's Configuration tables."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and "<SVC>" not in cells[0]:
            rows.append(
                (re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), re.findall(r"`([^`]*)`", cells[1]))
            )
    return rows


def _code_defaults() -> dict[str, set[str]]:
    defaults: dict[str, set[str]] = {}
    for service in SERVICES:
        for var in variables(service):
            defaults.setdefault(var.name, set()).add(var.default.strip("`"))
    return defaults


def _same(documented: str, code: str) -> bool:
    try:
        return float(documented) == float(code)
    except ValueError:
        return documented == code


def test_the_reference_page_is_what_the_settings_classes_say() -> None:
    committed = (ROOT / settings_reference.PAGE).read_text(encoding="utf-8")
    assert committed == render(), "stale: uv run python -m shouwang_devstack.settings_reference"


def test_every_variable_the_readme_lists_is_read_with_the_default_it_states() -> None:
    defaults = _code_defaults()
    rows = _configuration_rows()
    assert len(rows) > 20, "the README's Configuration tables were not found"
    unread = sorted(
        name for names, _ in rows for name in names if name not in defaults.keys() | NOT_IN_SETTINGS
    )
    assert not unread, f"the README lists variables nothing reads: {unread}"
    wrong = []
    for names, stated in rows:
        if len(names) != len(stated):
            continue  # a default in words ("local only", "50 MiB"): nothing to compare
        for name, value in zip(names, stated, strict=True):
            code = defaults.get(name, set())
            if code and not any(_same(value, c) for c in code):
                wrong.append(f"{name}: README `{value}`, code {sorted(code)}")
    assert not wrong, wrong


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_a_service_reads_is_on_the_reference_page(service: str) -> None:
    page = (ROOT / settings_reference.PAGE).read_text(encoding="utf-8")
    missing = [v.name for v in variables(service) if f"`{v.name}`" not in page]
    assert not missing, missing


def test_the_page_is_the_same_in_every_clone() -> None:
    """A default inside the checkout (the gateway's web/dist) is written from the repository
    root, so a clone elsewhere (CI's) reads the same page."""
    page = render()
    assert "`<repo>/web/dist`" in page
    assert str(settings_reference.repo_root()) not in page
