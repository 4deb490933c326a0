"""Every refusal the loop can raise has zh-CN wording, so a default caller never reads English."""

from __future__ import annotations

import ast
from pathlib import Path

import shouwang_casework
from shouwang_casework.entrypoints.http_messages import ZH

SOURCE = Path(shouwang_casework.__file__).parent
REFUSALS = {
    "CaseRuleViolation",
    "NotPermitted",
    "MissingRecord",
    "InvalidTransition",
    "CaseNotFound",
}
# care._worker builds its code as f"{what}_forbidden" from these.
WORKER_CODES = {"notes_forbidden", "plan_forbidden", "follow_ups_forbidden"}


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def raised_codes() -> set[str]:
    """The literal code of every refusal and `require(...)` call in the service's source."""
    codes: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            index = 0 if name in REFUSALS else 1 if name == "require" else None
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                codes.add(arg.value)
    return codes


def test_every_refusal_code_has_chinese_wording() -> None:
    codes = raised_codes() | WORKER_CODES
    assert {"case_not_found", "transition_forbidden", "outcome_required"} <= codes  # the scan works
    assert sorted(codes - ZH.keys()) == []
