"""Check Shouwang's alert rules with promtool: syntax and templates, then the unit tests.

    uv run python deploy/prometheus/check_rules.py

The rules live in the Prometheus Operator's PrometheusRule
(`deploy/k8s/components/monitoring/prometheus-rules.yaml`); promtool reads plain rule files, so
its `spec` is written out to a scratch directory beside copies of `deploy/prometheus/tests/`.
`promtool check rules` checks the rules as shipped (expressions and annotation templates);
`promtool test rules` runs the unit tests against the same rules without their annotations,
so that each test states when an alert fires and with which labels, not its prose. `make test`
runs this through `tools/devstack/tests/test_alert_rules.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "k8s" / "components" / "monitoring" / "prometheus-rules.yaml"
TESTS = HERE / "tests"


def groups() -> list[dict[str, Any]]:
    """The rule groups of the PrometheusRule."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = document["spec"]["groups"]
    return found


def without_annotations(rule_groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **group,
            "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]],
        }
        for group in rule_groups
    ]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        raise SystemExit(
            "promtool not found: `make promtool` installs it (Debian's prometheus package)"
        )
    return found


def check(workdir: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on the rules as shipped, then `promtool test rules` on every test."""
    shipped = workdir / "shipped.yaml"
    shipped.write_text(yaml.safe_dump({"groups": groups()}, allow_unicode=True), encoding="utf-8")
    checked = subprocess.run(  # noqa: S603 - promtool on our own files
        [promtool(), "check", "rules", str(shipped)], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        return checked
    tested = workdir / "rules.yaml"
    tested.write_text(
        yaml.safe_dump({"groups": without_annotations(groups())}, allow_unicode=True),
        encoding="utf-8",
    )
    files = []
    for test in sorted(TESTS.glob("*.yaml")):
        shutil.copy(test, workdir / test.name)
        files.append(test.name)
    return subprocess.run(  # noqa: S603 - promtool on our own files
        [promtool(), "test", "rules", *files],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shouwang-rules-") as scratch:
        done = check(Path(scratch))
    print(done.stdout, done.stderr, sep="")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
