"""What a submission says: the validated input of intake's use cases, which the HTTP API
documents as its bodies (a report, one screening)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from shouwang_contracts.events.intake import MAX_NOTE_CHARS
from shouwang_contracts.inputs import IsoDatetime
from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument
from shouwang_contracts.vocabulary import ReportChannel, Signal

STUDENT_NO_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReportIn(_Input):
    """A report of signals about one student: seen by the reporter, or learned from the
    student, a family member or a counseling session (`channel`)."""

    campus_id: str = Field(
        min_length=1, max_length=64, description="Must equal the token's campus."
    )
    student_no: str = Field(
        pattern=STUDENT_NO_PATTERN, description="学号 of the student reported about."
    )
    signals: list[Signal] = Field(
        min_length=1,
        max_length=20,
        description="One or more signal ids from the vocabulary, each at most once.",
        # Said in the schema too, so generated clients and the server agree.
        json_schema_extra={"uniqueItems": True},
    )
    observed_at: IsoDatetime = Field(
        description="When it was observed; ISO 8601. Without an offset, campus local time."
    )
    note: str | None = Field(
        default=None,
        max_length=MAX_NOTE_CHARS,
        description="Free text; encrypted before it leaves intake.",
    )
    location: str | None = Field(default=None, max_length=200, description="Where, e.g. 8号楼202.")
    channel: ReportChannel = Field(
        default=ReportChannel.OBSERVED,
        description="How the reporter learned of it (获知途径): observed 亲眼所见 (the default),"
        " self_referral 学生本人求助, family_call 家长来电反映 (tiers 4–6 and college leaders),"
        " counseling_session 心理咨询中发现 (tiers 5–6). A channel the reporter's role cannot"
        " have learned of it by is refused (422 channel_not_for_role). A student reporter"
        " (tiers 1–3) reporting about themself (`student_no` is their own) is asking for"
        " help: the report is published as self_referral whatever channel it names.",
        examples=[ReportChannel.SELF_REFERRAL.value],
    )

    @field_validator("signals")
    @classmethod
    def _no_repeats(cls, signals: list[Signal]) -> list[Signal]:
        if len(set(signals)) != len(signals):
            raise PydanticCustomError("signals_repeated", "signals must not repeat")
        return signals


class ScreeningIn(_Input):
    """One student's answers to one screening instrument."""

    campus_id: str = Field(
        min_length=1, max_length=64, description="Must equal the token's campus."
    )
    student_no: str = Field(pattern=STUDENT_NO_PATTERN, description="学号 of the student screened.")
    instrument: Instrument = Field(description="phq9, gad7, upi, cssrs_screener or scl90.")
    # Strict: the schema says integer, so neither "1" nor 1.0 is taken for one.
    items: list[StrictInt] = Field(
        min_length=1,
        max_length=90,  # SCL-90, the longest instrument
        description="Answers in item order; yes/no as 1/0. As many as the instrument has items.",
    )
    behavior_recency: BehaviorRecency | None = Field(
        default=None,
        validate_default=True,
        description="C-SSRS screener only: when Q6's behaviour last happened. Required when "
        "Q6 is answered yes.",
    )
    counseling_requested: bool | None = Field(
        default=None,
        description="UPI only: the student asked for a counseling conversation.",
    )
    administered_at: IsoDatetime = Field(description="When the student answered; ISO 8601.")

    # Field validators, not one model validator, so that each error names its field.

    @field_validator("items")
    @classmethod
    def _items_fit_instrument(cls, items: list[int], info: ValidationInfo) -> list[int]:
        instrument = info.data.get("instrument")
        if instrument is None:
            return items  # the instrument's own error says what is wrong
        spec = INSTRUMENTS[instrument]
        if len(items) != spec.item_count:
            raise PydanticCustomError(
                "instrument_item_count",
                "{instrument} needs {expected} items, got {actual}",
                {"instrument": instrument.value, "expected": spec.item_count, "actual": len(items)},
            )
        for index, value in enumerate(items, start=1):
            if not spec.min_value <= value <= spec.max_value:
                raise PydanticCustomError(
                    "instrument_item_range",
                    "item {index} is {value}, outside {min_value}..{max_value}",
                    {
                        "index": index,
                        "value": value,
                        "min_value": spec.min_value,
                        "max_value": spec.max_value,
                    },
                )
        return items

    @field_validator("behavior_recency")
    @classmethod
    def _recency_fits_answers(
        cls, recency: BehaviorRecency | None, info: ValidationInfo
    ) -> BehaviorRecency | None:
        instrument, items = info.data.get("instrument"), info.data.get("items")
        if instrument is None or items is None:
            return recency  # those fields' own errors come first
        if instrument is not Instrument.CSSRS_SCREENER:
            if recency is not None:
                raise _not_applicable("behavior_recency", Instrument.CSSRS_SCREENER)
            return recency
        behaviour = items[5] == 1
        if behaviour and recency in (None, BehaviorRecency.NEVER):
            raise PydanticCustomError(
                "recency_required",
                "C-SSRS Q6 answered yes needs behavior_recency (past_3_months or lifetime)",
            )
        if not behaviour and recency not in (None, BehaviorRecency.NEVER):
            raise PydanticCustomError(
                "recency_contradicts_answer",
                "C-SSRS Q6 is answered no, but behavior_recency says the behaviour happened",
            )
        return recency

    @field_validator("counseling_requested")
    @classmethod
    def _counseling_only_for_upi(cls, requested: bool | None, info: ValidationInfo) -> bool | None:
        instrument = info.data.get("instrument")
        if requested is not None and instrument not in (None, Instrument.UPI):
            raise _not_applicable("counseling_requested", Instrument.UPI)
        return requested


def _not_applicable(field: str, applies_to: Instrument) -> PydanticCustomError:
    return PydanticCustomError(
        "field_not_applicable",
        "{field} applies only to {applies_to}",
        {"field": field, "applies_to": applies_to.value},
    )
