"""The case API's contract: stable operation ids and documented problems on every operation."""

from __future__ import annotations

import pytest
from shouwang_casework.entrypoints.http import ROUTERS
from shouwang_casework.main import AUDITED_READS, create_app
from shouwang_servicekit.admission import route_matches

CASE_OPERATIONS = {
    "list_cases",
    "count_cases",
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
    "list_awaiting_me",
    "count_awaiting_me",
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


RECORD_OPERATIONS = {
    "import_student_roster",
    "import_staff_roster",
    "list_roster_imports",
    "get_roster_import",
    "read_student_file",
    "break_glass",
    "list_audit_log",
    "list_break_glass_grants",
    "review_break_glass",
    "erase_student_file_text",
    "pick_students",
    "name_students",
}


def test_the_records_half_has_snake_case_ids_and_response_models() -> None:
    spec = create_app().openapi()
    operations = {
        op["operationId"]: op
        for path, methods in spec["paths"].items()
        if path.startswith(("/v1/roster", "/v1/students", "/v1/audit"))
        for op in methods.values()
    }
    assert set(operations) == RECORD_OPERATIONS
    for operation_id, op in operations.items():
        success = next(code for code in op["responses"] if code.startswith("2"))
        schema = op["responses"][success]["content"]["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), operation_id


@pytest.mark.parametrize("version", ['"0"', "0.0", "true"])
def test_a_plan_the_schema_refuses_is_refused_too(version: str) -> None:
    """The schema says `expected_version` is an integer; a string, a float or a boolean that
    pydantic's lax mode would take for one is refused, as a generated client expects."""
    from pydantic import ValidationError
    from shouwang_casework.entrypoints.http_schemas import PlanIn, TransitionIn

    with pytest.raises(ValidationError):
        PlanIn.model_validate_json(f'{{"expected_version": {version}, "actions": []}}')
    with pytest.raises(ValidationError):
        TransitionIn.model_validate({"to_state": "monitoring", "expected_version": version})


def test_counting_the_queue_is_no_audited_read_at_the_edge() -> None:
    """`/v1/cases/count` names no student: it is not one of the reads a person may make fewer
    of, though `/v1/cases/{case_id}`'s pattern would take `count` for a case id."""
    reads = route_matches(ROUTERS, AUDITED_READS)
    assert not any(read.matches("GET", "/v1/cases/count") for read in reads)
    assert any(read.matches("GET", "/v1/cases/5f0c") for read in reads)
    assert any(read.matches("GET", "/v1/cases") for read in reads)


def test_the_file_schema_names_how_each_report_was_learned_of() -> None:
    """A client generated from the schema knows a report's `channel` and its values (the
    contracts' ReportChannel), with what each means."""
    from shouwang_contracts.vocabulary import ReportChannel

    schemas = create_app().openapi()["components"]["schemas"]
    reports = schemas["StudentFileOut"]["properties"]["reports"]["items"]
    report = schemas[reports["$ref"].rsplit("/", 1)[1]]
    channel = report["properties"]["channel"]
    assert "channel" in report["required"]
    assert "self_referral" in channel["description"]
    assert schemas[channel["$ref"].rsplit("/", 1)[1]]["enum"] == [c.value for c in ReportChannel]
