"""Screening instruments: what a valid answer sheet looks like.

Scoring and banding belong to triage's policy; this module only says how many items an
instrument has and on which scale they are answered, so every service validates alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Instrument(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"
    UPI = "upi"
    CSSRS_SCREENER = "cssrs_screener"
    SCL90 = "scl90"


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Item count and answer scale of one instrument, with its display names."""

    instrument: Instrument
    item_count: int
    min_value: int
    max_value: int
    name_zh: str
    name_en: str

    def validate_items(self, items: list[int]) -> list[str]:
        """Return readable problems with an answer sheet; empty when it is valid."""
        problems: list[str] = []
        if len(items) != self.item_count:
            problems.append(
                f"{self.instrument.value} needs {self.item_count} items, got {len(items)}"
            )
        for index, value in enumerate(items, start=1):
            if not self.min_value <= value <= self.max_value:
                problems.append(
                    f"item {index} is {value}, outside {self.min_value}..{self.max_value}"
                )
        return problems


INSTRUMENTS: dict[Instrument, InstrumentSpec] = {
    # PHQ-9: nine items, 0 (not at all) .. 3 (nearly every day).
    Instrument.PHQ9: InstrumentSpec(Instrument.PHQ9, 9, 0, 3, "患者健康问卷（PHQ-9）", "PHQ-9"),
    # GAD-7: seven items on the same 0..3 frequency scale.
    Instrument.GAD7: InstrumentSpec(Instrument.GAD7, 7, 0, 3, "广泛性焦虑量表（GAD-7）", "GAD-7"),
    # UPI (University Personality Inventory): 60 yes/no items, yes = 1.
    Instrument.UPI: InstrumentSpec(Instrument.UPI, 60, 0, 1, "大学生人格问卷（UPI）", "UPI"),
    # C-SSRS screener: six yes/no questions; Q6's recency travels beside the items.
    Instrument.CSSRS_SCREENER: InstrumentSpec(
        Instrument.CSSRS_SCREENER,
        6,
        0,
        1,
        "哥伦比亚自杀严重程度评定量表（筛查版）",
        "C-SSRS screener",
    ),
    # SCL-90 as used in Chinese colleges: 90 items scored 1 (none) .. 5 (severe).
    Instrument.SCL90: InstrumentSpec(
        Instrument.SCL90, 90, 1, 5, "症状自评量表（SCL-90）", "SCL-90"
    ),
}


class BehaviorRecency(StrEnum):
    """When the C-SSRS screener's suicidal behaviour (Q6) last happened."""

    NEVER = "never"
    PAST_3_MONTHS = "past_3_months"
    LIFETIME = "lifetime"
