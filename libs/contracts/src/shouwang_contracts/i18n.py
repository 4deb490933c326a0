"""Validation messages in the reader's language: zh-CN by default, English available.

pydantic writes its messages in English only, and no maintained package translates pydantic
v2's messages into Chinese (pydantic-i18n needs the translations supplied; the packages that
ship Chinese target pydantic v1). So this module keeps zh-CN templates keyed by pydantic's
stable error `type`, filled from the error's `ctx`, like pydantic's own English templates.
An unknown type falls back to pydantic's English message rather than to nothing.

Shouwang's own validators raise `PydanticCustomError` with a type listed here too, so a
client gets `type` to act on and a message it can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .vocabulary import DEFAULT_LANGUAGE, Language

_ISO_DATETIME = "应为 ISO 8601 日期时间，例如 2026-09-01T08:30:00+08:00"

ZH_VALIDATION_MESSAGES: dict[str, str] = {
    # pydantic's own error types (https://docs.pydantic.dev/latest/errors/validation_errors/)
    "missing": "缺少必填字段",
    "extra_forbidden": "不接受这个字段",
    "string_type": "应为字符串",
    "string_too_short": "至少需要 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符合要求（{pattern}）",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数，不能带小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "list_type": "应为数组",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "enum": "应为以下取值之一：{expected}",
    "literal_error": "应为以下取值之一：{expected}",
    "datetime_type": _ISO_DATETIME,
    "datetime_parsing": _ISO_DATETIME,
    "datetime_from_date_parsing": _ISO_DATETIME,
    "timezone_aware": "应带时区，例如 +08:00",
    "date_type": "应为 ISO 8601 日期，例如 2026-09-01",
    "date_parsing": "应为 ISO 8601 日期，例如 2026-09-01",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "json_invalid": "不是合法的 JSON",
    "json_type": "应为 JSON 字符串或字节",
    "value_error": "取值无效",
    # Shouwang's own validators
    "signals_repeated": "signals 中不能有重复的信号",
    "instrument_item_count": "{instrument} 需要 {expected} 道题的作答，收到 {actual} 道",
    "instrument_item_range": "第 {index} 题的作答是 {value}，应在 {min_value} 到 {max_value} 之间",
    "recency_required": "C-SSRS 第 6 题答“是”时，必须填写 behavior_recency"
    "（past_3_months 或 lifetime）",
    "recency_contradicts_answer": "C-SSRS 第 6 题答“否”，behavior_recency 却说发生过该行为",
    "field_not_applicable": "{field} 只适用于 {applies_to}",
}


def validation_message(error: Mapping[str, Any], language: Language = DEFAULT_LANGUAGE) -> str:
    """The message of one pydantic error (an item of `ValidationError.errors()`)."""
    english = str(error.get("msg", ""))
    if language != "zh-CN":
        return english
    template = ZH_VALIDATION_MESSAGES.get(str(error.get("type", "")))
    if template is None:
        return english
    context = dict(error.get("ctx") or {})
    if isinstance(context.get("expected"), str):  # pydantic joins choices with "or"
        context["expected"] = context["expected"].replace(" or ", "、")
    try:
        return template.format(**context)
    except (KeyError, IndexError, ValueError):
        return english  # a template whose context pydantic did not give: say it in English
