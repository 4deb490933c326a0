"""What intake's HTTP API accepts and answers (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shouwang_contracts.events.intake import MAX_NOTE_CHARS
from shouwang_contracts.instruments import INSTRUMENTS, BehaviorRecency, Instrument
from shouwang_contracts.vocabulary import Signal

STUDENT_NO_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReportIn(_Input):
    """A report of signals observed about one student."""

    campus_id: str = Field(
        min_length=1, max_length=64, description="Must equal the token's campus."
    )
    student_no: str = Field(
        pattern=STUDENT_NO_PATTERN, description="学号 of the student reported about."
    )
    signals: list[Signal] = Field(
        min_length=1, max_length=20, description="One or more signal ids from the vocabulary."
    )
    observed_at: datetime = Field(
        description="When it was observed; ISO 8601. Without an offset, campus local time."
    )
    note: str | None = Field(
        default=None,
        max_length=MAX_NOTE_CHARS,
        description="Free text; encrypted before it leaves intake.",
    )
    location: str | None = Field(default=None, max_length=200, description="Where, e.g. 8号楼202.")

    @field_validator("signals")
    @classmethod
    def _no_repeats(cls, signals: list[Signal]) -> list[Signal]:
        if len(set(signals)) != len(signals):
            raise ValueError("signals must not repeat")
        return signals


class ScreeningIn(_Input):
    """One student's answers to one screening instrument."""

    campus_id: str = Field(
        min_length=1, max_length=64, description="Must equal the token's campus."
    )
    student_no: str = Field(pattern=STUDENT_NO_PATTERN, description="学号 of the student screened.")
    instrument: Instrument = Field(description="phq9, gad7, upi, cssrs_screener or scl90.")
    items: list[int] = Field(description="Answers in item order; yes/no as 1/0.")
    behavior_recency: BehaviorRecency | None = Field(
        default=None, description="C-SSRS screener: when Q6's behaviour last happened."
    )
    counseling_requested: bool | None = Field(
        default=None, description="UPI: the student asked for a counseling conversation."
    )
    administered_at: datetime = Field(description="When the student answered; ISO 8601.")

    @model_validator(mode="after")
    def _fits_instrument(self) -> Self:
        problems = INSTRUMENTS[self.instrument].validate_items(self.items)
        if problems:
            raise ValueError("; ".join(problems))
        if (
            self.instrument is Instrument.CSSRS_SCREENER
            and self.items[5] == 1
            and self.behavior_recency in (None, BehaviorRecency.NEVER)
        ):
            raise ValueError("C-SSRS Q6 answered yes needs behavior_recency")
        return self


class Accepted(BaseModel):
    """Kafka has the submission; keep the id to follow it."""

    id: str = Field(description="Receipt id (report_id or screening_id).")
    status: Literal["received"] = "received"
    received_at: datetime


class ReceiptOut(BaseModel):
    """What a reporter may know about their report: its status, nothing of the case."""

    id: str
    kind: Literal["report", "screening"]
    status: Literal["received", "in_progress", "closed"] = Field(
        description="received: 已收到; in_progress: 正在处理; closed: 已处理完毕."
    )
    status_label: str
    received_at: datetime
    updated_at: datetime


class RowErrorOut(BaseModel):
    row: int = Field(description="Row number as a spreadsheet shows it (header = 1).")
    field: str
    code: str
    message: str


class CensusBatchOut(BaseModel):
    """A census upload: how many rows went through and which did not, by row number."""

    batch_id: str
    status: Literal["processing", "completed", "failed"] = Field(
        description="processing: 正在读取; completed: 已读完整个文件; failed: 中途停止 (see"
        " `failure`). The counts of a failed batch are those reached before it stopped."
    )
    rows_total: int = Field(description="Data rows read (the header not counted).")
    rows_accepted: int = Field(
        description="Rows Kafka acknowledged on the census topic. A failed batch keeps these"
        " published: they are not withdrawn."
    )
    rows_rejected: int = Field(description="Rows with errors, listed in `errors`.")
    failure: str | None = Field(
        default=None,
        description="Why a failed batch stopped, e.g. the row after which the file"
        " could not be read.",
    )
    created_at: datetime
    completed_at: datetime | None = None
    errors: list[RowErrorOut] = Field(default_factory=list)
    errors_next_offset: int | None = Field(
        default=None, description="Pass as errors_offset for the next page of errors."
    )
