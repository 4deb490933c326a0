"""Export every event's JSON Schema to a folder, or check the committed copies are current.

shouwang-schemas export libs/contracts/schemas
shouwang-schemas check libs/contracts/schemas
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .envelope import envelope_json_schema
from .events import EVENT_TYPES

ASYNCAPI_FILE = "asyncapi.yaml"


def render_all() -> dict[str, str]:
    """File name → text for every registered event type's schema and the AsyncAPI document."""
    from .asyncapi import render_yaml

    rendered: dict[str, str] = {ASYNCAPI_FILE: render_yaml()}
    for event_type, payload_cls in sorted(EVENT_TYPES.items()):
        schema: dict[str, Any] = envelope_json_schema(payload_cls)
        name = f"{event_type}.v{payload_cls.SCHEMA_VERSION}.json"
        rendered[name] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return rendered


def stale_files(folder: Path) -> list[str]:
    """Names of schema files missing, different or no longer produced in `folder`."""
    expected = render_all()
    present = (
        {p.name for p in [*folder.glob("*.json"), *folder.glob("*.yaml")]}
        if folder.exists()
        else set()
    )
    stale = [
        name
        for name, text in expected.items()
        if name not in present or (folder / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(present - expected.keys())
    return stale


def export(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    expected = render_all()
    for old in [*folder.glob("*.json"), *folder.glob("*.yaml")]:
        if old.name not in expected:
            old.unlink()
    for name, text in expected.items():
        (folder / name).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.folder)
        return 0
    stale = stale_files(args.folder)
    if stale:
        print("stale event schemas (run `make schemas`):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
