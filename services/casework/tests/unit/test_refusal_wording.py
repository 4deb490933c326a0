"""Every refusal the loop can raise has zh-CN wording, so a default caller never reads English;
one naming a field says what is wrong with that field, in both languages, not its detail again."""

from __future__ import annotations

import ast
from pathlib import Path

import shouwang_casework
from shouwang_casework.entrypoints.http_messages import ZH, ZH_FIELD

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


def field_refusals() -> list[tuple[str, str, set[str]]]:
    """(file:line, code, keyword names) of every refusal raised with a `field=`."""
    found: list[tuple[str, str, set[str]]] = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or _name(node.func) not in REFUSALS | {
                "QueryTooShort"
            }:
                continue
            keywords = {k.arg for k in node.keywords if k.arg}
            if "field" not in keywords or not node.args:
                continue
            code = node.args[0]
            assert isinstance(code, ast.Constant), f"{path.name}:{node.lineno}"
            found.append((f"{path.name}:{node.lineno}", str(code.value), keywords))
    return found


def test_a_refusal_naming_a_field_says_what_is_wrong_with_it() -> None:
    refusals = field_refusals()
    assert {"follow_up_required", "outcome_required"} <= {code for _, code, _ in refusals}
    unexplained = [
        where
        for where, code, keywords in refusals
        if "field_message" not in keywords
        or ("field_message_zh" not in keywords and code not in ZH_FIELD)
    ]
    assert unexplained == []
    # The field's words are its own, not the refusal's detail again.
    assert [code for code, words in ZH_FIELD.items() if words == ZH.get(code)] == []
