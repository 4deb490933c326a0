"""Every refusal is problem+json in the caller's language, names its field, and is counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from shouwang_contracts.vocabulary import Role

PROBLEM_JSON = "application/problem+json"
WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
REPORT = {
    "campus_id": "demo",
    "student_no": "2024020001",
    "signals": ["persistent_low_mood"],
    "observed_at": WHEN,
}


def _screening(instrument: str, items: list[int], **extra: object) -> dict[str, object]:
    return {
        "campus_id": "demo",
        "student_no": "2024020002",
        "instrument": instrument,
        "items": items,
        "administered_at": WHEN,
        **extra,
    }


async def _rejections(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "intake_rejections":
            for sample in family.samples:
                if sample.name == "intake_rejections_total":
                    counts[sample.labels["reason"]] = sample.value
    return counts


def _is_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body  # type: ignore[no-any-return]


async def test_screening_errors_name_their_field_in_either_language(
    client: httpx.AsyncClient, token
) -> None:
    headers = token(Role.COUNSELING_CENTER)
    english = {**headers, "Accept-Language": "en-US,en;q=0.9"}
    cases = [
        (_screening("phq9", [0] * 8), "items", "instrument_item_count"),
        (_screening("phq9", [0] * 8 + [4]), "items", "instrument_item_range"),
        (_screening("cssrs_screener", [0, 0, 0, 0, 0, 1]), "behavior_recency", "recency_required"),
        (
            _screening("cssrs_screener", [0] * 6, behavior_recency="past_3_months"),
            "behavior_recency",
            "recency_contradicts_answer",
        ),
        (
            _screening("phq9", [0] * 9, behavior_recency="lifetime"),
            "behavior_recency",
            "field_not_applicable",
        ),
        (
            _screening("gad7", [0] * 7, counseling_requested=True),
            "counseling_requested",
            "field_not_applicable",
        ),
    ]
    for body, field, error_type in cases:
        zh = _is_problem(
            await client.post("/v1/screenings", json=body, headers=headers),
            422,
            "validation_failed",
        )
        en = _is_problem(
            await client.post("/v1/screenings", json=body, headers=english),
            422,
            "validation_failed",
        )
        [zh_error] = zh["errors"]  # type: ignore[misc]
        [en_error] = en["errors"]  # type: ignore[misc]
        assert (zh_error["field"], zh_error["type"]) == (field, error_type), zh_error
        assert (en_error["field"], en_error["type"]) == (field, error_type), en_error
        assert not zh_error["message"].isascii(), zh_error  # written in Chinese
        assert en_error["message"].isascii(), en_error
        assert "message_en" not in zh_error

    fine = _screening("cssrs_screener", [1, 1, 0, 0, 0, 1], behavior_recency="past_3_months")
    accepted = await client.post("/v1/screenings", json=fine, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["screening_id"] == accepted.json()["id"]
    assert "report_id" not in accepted.json()


async def test_a_report_202_names_its_report_id(client: httpx.AsyncClient, token) -> None:
    response = await client.post("/v1/reports", json=REPORT, headers=token(Role.DORM_LEADER))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["report_id"] == body["id"]
    assert response.headers["location"] == f"/v1/reports/{body['report_id']}"


async def test_refusals_speak_chinese_unless_english_is_preferred(
    client: httpx.AsyncClient, token
) -> None:
    dorm = token(Role.DORM_LEADER)
    english = {"Accept-Language": "en"}
    pydantic_error = {**REPORT, "signals": []}
    cases: list[tuple[str, dict[str, str], dict[str, object], int, str]] = [
        ("/v1/reports", {}, REPORT, 401, "missing_token"),
        ("/v1/screenings", dorm, _screening("gad7", [0] * 7), 403, "role_forbidden"),
        ("/v1/reports", token(Role.DORM_LEADER, campus="other"), REPORT, 403, "campus_forbidden"),
        ("/v1/reports", dorm, pydantic_error, 422, "validation_failed"),
        (
            "/v1/reports",
            dorm,
            {**REPORT, "observed_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
            422,
            "observed_in_future",
        ),
    ]
    for path, headers, body, status, code in cases:
        zh = _is_problem(await client.post(path, json=body, headers=headers), status, code)
        en = _is_problem(
            await client.post(path, json=body, headers={**headers, **english}), status, code
        )
        assert not str(zh["title"]).isascii(), zh
        assert not str(zh["detail"]).isascii(), zh
        assert str(en["title"]).isascii(), en
        assert str(en["detail"]).isascii(), en
        for error in zh.get("errors", []):  # type: ignore[attr-defined]
            assert not error["message"].isascii(), error
        for error in en.get("errors", []):  # type: ignore[attr-defined]
            assert error["message"].isascii(), error

    wrong_type = await client.post(
        "/v1/reports",
        content=b"a=b",
        headers={**dorm, **english, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert _is_problem(wrong_type, 415, "unsupported_media_type")["detail"] == (
        "Send the body as application/json"
    )


async def test_the_frameworks_own_errors_are_problems_too(client: httpx.AsyncClient, token) -> None:
    headers = token(Role.DORM_LEADER)
    missing = _is_problem(await client.get("/v1/nowhere", headers=headers), 404, "not_found")
    assert missing["instance"] == "/v1/nowhere"
    _is_problem(
        await client.put("/v1/reports", json=REPORT, headers=headers), 405, "method_not_allowed"
    )
    _is_problem(
        await client.post(
            "/v1/reports",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        ),
        400,
        "malformed_json",
    )


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_one_413_however_it_arrives(
    client: httpx.AsyncClient, token, declared: bool
) -> None:
    body = b'{"note": "' + b"x" * 70_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = await client.post(
        "/v1/reports",
        content=body if declared else chunks(),
        headers={
            **token(Role.DORM_LEADER),
            "Content-Type": "application/json",
            "Accept-Language": "en",
        },
    )
    problem = _is_problem(response, 413, "body_too_large")
    assert problem["title"] == "Content too large"
    assert problem["instance"] == "/v1/reports"


async def test_every_refusal_is_counted_by_its_reason(client: httpx.AsyncClient, token) -> None:
    before = await _rejections(client)
    dorm = token(Role.DORM_LEADER)
    await client.post("/v1/reports", json=REPORT)  # 401
    await client.post("/v1/screenings", json=_screening("gad7", [0] * 7), headers=dorm)  # 403
    await client.post("/v1/reports", json={**REPORT, "signals": []}, headers=dorm)  # 422
    await client.post(
        "/v1/reports",
        content=b"x" * 70_000,
        headers={**dorm, "Content-Type": "application/json"},
    )  # 413
    await client.post("/v1/reports", content=b"a", headers={**dorm, "Content-Type": "text/plain"})
    await client.get("/v1/nowhere", headers=dorm)  # 404
    after = await _rejections(client)
    for reason in (
        "missing_token",
        "role_forbidden",
        "validation_failed",
        "body_too_large",
        "unsupported_media_type",
        "not_found",
    ):
        assert after.get(reason, 0) - before.get(reason, 0) == 1, (reason, before, after)


async def test_a_bad_idempotency_key_is_named_beside_the_bodys_errors(
    client: httpx.AsyncClient, token
) -> None:
    response = await client.post(
        "/v1/reports",
        json={**REPORT, "signals": []},
        headers={**token(Role.DORM_LEADER), "Idempotency-Key": "short"},
    )
    problem = _is_problem(response, 422, "validation_failed")
    fields = {e["field"]: e["type"] for e in problem["errors"]}  # type: ignore[attr-defined]
    assert fields == {"header.Idempotency-Key": "string_too_short", "signals": "too_short"}


@pytest.mark.parametrize("body", [b"", b"[1, 2", b'{"campus_id": "demo",}'])
async def test_a_body_that_is_not_json_is_a_400_for_every_json_endpoint(
    client: httpx.AsyncClient, token, body: bytes
) -> None:
    for path, role in (
        ("/v1/reports", Role.DORM_LEADER),
        ("/v1/screenings", Role.COUNSELING_CENTER),
    ):
        response = await client.post(
            path, content=body, headers={**token(role), "Content-Type": "application/json"}
        )
        _is_problem(response, 400, "malformed_json")


async def test_the_token_is_checked_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/reports", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _is_problem(response, 401, "missing_token")
