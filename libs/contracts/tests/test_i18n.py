"""Validation messages: zh-CN from pydantic's error type and context, English as pydantic wrote."""

from __future__ import annotations

from enum import StrEnum

import pytest
from pydantic import BaseModel, Field, ValidationError
from shouwang_contracts.i18n import ZH_VALIDATION_MESSAGES, validation_message


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Sample(BaseModel):
    name: str = Field(max_length=3)
    count: int = Field(ge=1)
    colour: Colour


def _errors(**data: object) -> dict[str, dict[str, object]]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    return {str(e["loc"][0]): dict(e) for e in caught.value.errors()}


def test_messages_are_chinese_by_default_with_the_limits_filled_in() -> None:
    errors = _errors(name="abcd", count=0, colour="green")
    assert validation_message(errors["name"]) == "最多 3 个字符"
    assert validation_message(errors["count"]) == "应大于或等于 1"
    assert validation_message(errors["colour"]) == "应为以下取值之一：'red'、'blue'"


def test_english_is_pydantics_own_message() -> None:
    errors = _errors(name="abcd", count=0, colour="red")
    assert validation_message(errors["name"], "en") == "String should have at most 3 characters"


def test_an_unknown_type_falls_back_to_english_rather_than_nothing() -> None:
    error = {"type": "something_new", "msg": "Something new went wrong", "ctx": {}}
    assert validation_message(error) == "Something new went wrong"


def test_a_template_missing_its_context_falls_back_to_english() -> None:
    error = {"type": "string_too_long", "msg": "String should have at most 3 characters"}
    assert validation_message(error) == "String should have at most 3 characters"


def test_every_template_is_chinese() -> None:
    assert all(not template.isascii() for template in ZH_VALIDATION_MESSAGES.values())
