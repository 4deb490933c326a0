"""The alert rules pass promtool's checks and unit tests, and every alert has a test that makes
it fire (deploy/prometheus/tests; promtool comes from Debian's prometheus package, `make promtool`)."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_rules", DEPLOY / "prometheus/check_rules.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rules_pass_promtools_check_and_their_unit_tests() -> None:
    checker = _checker()
    with tempfile.TemporaryDirectory() as scratch:
        done = checker.check(Path(scratch))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_unit_test_in_which_it_fires() -> None:
    checker = _checker()
    alerts = {r["alert"] for g in checker.groups() for r in g["rules"] if "alert" in r}
    fired: set[str] = set()
    for path in checker.TESTS.glob("*.yaml"):
        document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    assert alerts - fired == set(), "alerts without a test that makes them fire"
    assert fired - alerts == set(), "tests of alerts that do not exist"
