"""What people read for each id: zh-CN by default, English on request."""

from __future__ import annotations

from shouwang_contracts.instruments import INSTRUMENTS, Instrument
from shouwang_contracts.vocabulary import DEFAULT_LANGUAGE, Language, Role, in_language

from ..domain.figures import (
    BUCKET_LABELS,
    INSTRUMENT_LABELS,
    LEGS,
    MILESTONE_LABELS,
    SOURCE_LABELS,
    UNKNOWN_COLLEGE_LABELS,
    Bucket,
    Labels,
    Milestone,
)

_FIXED: dict[str, dict[str, Labels]] = {
    "grade": {b.value: BUCKET_LABELS[b] for b in Bucket},
    "severity": {
        "mild": ("轻度", "Mild"),
        "moderate": ("中度", "Moderate"),
        "severe": ("重度", "Severe"),
        "critical": ("危急", "Critical"),
    },
    "state": {
        "open": ("发现", "Open"),
        "monitoring": ("监控", "Monitoring"),
        "intervention": ("干预", "Intervention"),
        "referred": ("转介", "Referred"),
        "aftercare": ("善后", "Aftercare"),
        "follow_up": ("回访", "Follow-up"),
        "closed": ("结案", "Closed"),
    },
    "referral_status": {
        "pending": ("待接收", "Pending"),
        "accepted": ("已接收", "Accepted"),
        "not_accepted": ("未接收", "Not accepted"),
        "returned": ("已返校", "Returned"),
        "referred_again": ("再次转介", "Referred again"),
    },
    "follow_up_fate": {
        "on_time": ("按时完成", "Done on time"),
        "late": ("逾期完成", "Done late"),
        "cancelled": ("已取消", "Cancelled"),
        "overdue": ("逾期未做", "Overdue"),
        "upcoming": ("未到期", "Not yet due"),
    },
    "outcome": {"delivered": ("已送达", "Delivered"), "failed": ("失败", "Failed")},
    "channel": {
        "email": ("邮件", "Email"),
        "sms": ("短信", "SMS"),
        "wecom": ("企业微信", "WeCom"),
        "dingtalk": ("钉钉", "DingTalk"),
        "webhook": ("Webhook", "Webhook"),
        "phone_call": ("电话", "Phone call"),
    },
    "milestone": {m.value: MILESTONE_LABELS[m] for m in Milestone},
    "leg": {leg.id: leg.labels() for leg in LEGS},
}

TOTAL: Labels = ("合计", "Total")
ALL: Labels = ("全部", "All")
SUPPRESSED_NOTE: Labels = (
    "“<5”：少于5名学生，不予显示；“*”：为防止由合计推算出少于5的数字而一并隐去，"
    "本年内隐去过的数字全年保持隐去。",
    "“<5”: fewer than 5 students, not shown; “*”: hidden as well, so that a number under 5"
    " cannot be worked out from the totals; a figure hidden once stays hidden all year.",
)


def label(kind: str, value: str, language: Language = DEFAULT_LANGUAGE) -> str:
    """The readable name of `value` of the given kind (a college or campus names itself)."""
    if kind == "none":
        return in_language(ALL, language)
    if kind == "college":
        return value or in_language(UNKNOWN_COLLEGE_LABELS, language)
    if kind in ("source", "role"):
        if value in SOURCE_LABELS:
            return in_language(SOURCE_LABELS[value], language)
        try:
            return Role(value).label(language)
        except ValueError:
            return value
    if kind == "instrument":
        if value in INSTRUMENT_LABELS:
            return in_language(INSTRUMENT_LABELS[value], language)
        try:
            spec = INSTRUMENTS[Instrument(value)]
        except ValueError:
            return value
        return spec.name_zh if language == "zh-CN" else spec.name_en
    fixed = _FIXED.get(kind, {}).get(value)
    return in_language(fixed, language) if fixed else value


def text(labels: Labels, language: Language = DEFAULT_LANGUAGE) -> str:
    return in_language(labels, language)
