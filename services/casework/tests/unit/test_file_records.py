"""Opening sealed text in a file, and how the file's consumers sort records before the DB."""

from __future__ import annotations

from typing import Any

import pytest
from shouwang_casework.adapters.files import open_sealed_values, store_report
from shouwang_casework.entrypoints.record_consumers import apply_record
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.kafka import PoisonEvent

CIPHER = NoteCipher({"k1": bytes(32), "k0": bytes(range(32))}, "k1")


def test_sealed_values_open_wherever_they_sit_and_keys_lose_the_sealed_word() -> None:
    seal = CIPHER.seal("安全计划已签", campus_id="c", student_ref="stu_1")
    other_student = CIPHER.seal("别人的笔记", campus_id="c", student_ref="stu_2")
    file: dict[str, Any] = {
        "reports": [{"report_id": "r1", "note_sealed": seal.model_dump()}],
        "cases": [
            {
                "notes": [{"sealed": seal.model_dump_json()}],
                "consents": [{"sealed_reason": None, "decision": "given"}],
                "plans": [{"actions": [{"description": seal.model_dump_json(), "kind": "talk"}]}],
                "case_history": [{"sealed_text": other_student.model_dump()}],
            }
        ],
    }

    opened = open_sealed_values(file, CIPHER, campus_id="c", student_ref="stu_1")

    assert opened["reports"][0] == {"report_id": "r1", "note": "安全计划已签"}
    case = opened["cases"][0]
    assert case["notes"][0] == {"text": "安全计划已签"}
    assert case["consents"][0] == {"sealed_reason": None, "decision": "given"}
    assert case["plans"][0]["actions"][0]["description"] == "安全计划已签"
    # Bound to another student: it does not open here.
    assert case["case_history"][0] == {"text": None, "text_unreadable": True}


async def test_records_of_other_types_are_skipped_and_garbage_is_poison() -> None:
    pool: Any = None  # neither path reaches the database
    skipped = await apply_record(
        pool, b"{}", "shouwang.something.else", ReportSubmitted, store_report
    )
    assert skipped == "skipped"
    with pytest.raises(PoisonEvent, match=r"not a valid shouwang\.report\.submitted"):
        await apply_record(pool, b"not json", None, ReportSubmitted, store_report)
    with pytest.raises(PoisonEvent):
        await apply_record(
            pool, b'{"id": "1"}', "shouwang.report.submitted", ReportSubmitted, store_report
        )
