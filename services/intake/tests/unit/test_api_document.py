"""The OpenAPI document describes what the hot endpoints read themselves: their bodies and
the Idempotency-Key header, with every schema reference resolvable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from shouwang_intake.main import create_app


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part]
    return node


# Twice in one process: the body schemas are built once at import and shared by every app,
# so generating one document must not change what the next one gets.
@pytest.mark.parametrize("app", ["first", "second"])
def test_submissions_document_their_body_and_idempotency_key(app: str) -> None:
    spec = create_app().openapi()
    expected = {
        "/v1/reports": {
            "campus_id",
            "student_no",
            "signals",
            "observed_at",
            "note",
            "location",
            "channel",
        },
        "/v1/screenings": {"campus_id", "student_no", "instrument", "items", "administered_at"},
    }
    for path, fields in expected.items():
        operation = spec["paths"][path]["post"]
        body = operation["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        assert fields <= set(schema["properties"]), (path, schema["properties"].keys())
        assert {"campus_id", "student_no"} <= set(schema["required"])
        assert "$defs" not in schema  # moved into the components, where the refs point
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["schema"]["minLength"] == 8
        assert "202" in operation["responses"]
    signals = spec["paths"]["/v1/reports"]["post"]["requestBody"]["content"]["application/json"]
    items = signals["schema"]["properties"]["signals"]["items"]
    assert "persistent_low_mood" in _resolve(spec, items["$ref"])["enum"]
    # How the reporter learned of it: optional (absent is `observed`), its values listed.
    report = signals["schema"]
    channel = report["properties"]["channel"]
    assert "channel" not in report["required"]
    assert channel["default"] == "observed"
    assert "获知途径" in channel["description"]
    # A student writing about themself is asking for help, and the document says so.
    assert "themself" in channel["description"]
    assert "published as self_referral" in channel["description"]
    refusals = spec["paths"]["/v1/reports"]["post"]["responses"]["422"]["description"]
    assert "channel_not_for_role" in refusals
    assert set(_resolve(spec, channel["$ref"])["enum"]) == {
        "observed",
        "self_referral",
        "family_call",
        "counseling_session",
    }
    for ref in set(_refs(spec)):
        _resolve(spec, ref)  # raises if anything points nowhere
