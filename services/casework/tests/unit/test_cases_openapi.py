"""The case API's contract: stable operation ids and documented problems on every operation."""

from __future__ import annotations

from shouwang_casework.main import create_app

CASE_OPERATIONS = {
    "list_cases",
    "get_case",
    "get_case_history",
    "transition_case",
    "assign_case",
    "list_notes",
    "add_note",
    "revise_note",
    "get_plan",
    "revise_plan",
    "schedule_follow_up",
    "update_follow_up",
    "update_referral",
    "record_family_consent",
    "acknowledge_alert",
}


def test_operation_ids_are_stable_and_problems_documented() -> None:
    spec = create_app().openapi()
    operations = {
        op["operationId"]: op
        for path, methods in spec["paths"].items()
        if path.startswith(("/v1/cases", "/v1/alerts"))
        for op in methods.values()
    }
    assert set(operations) == CASE_OPERATIONS
    for op in operations.values():
        assert {"401", "403", "404", "409", "422"} <= set(op["responses"])
        assert "application/problem+json" in op["responses"]["422"]["content"]
