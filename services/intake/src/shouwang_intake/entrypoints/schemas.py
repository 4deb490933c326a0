"""What intake's HTTP API answers (the OpenAPI document is built from these; the bodies it
accepts are the use cases' commands, `service_layer.commands`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Accepted(BaseModel):
    """Kafka has the submission; keep the id to follow it (GET on `Location`)."""

    id: str = Field(description="Receipt id, the same as report_id or screening_id.")
    report_id: str | None = Field(
        default=None, description="A report's id, as its report.submitted event carries it."
    )
    screening_id: str | None = Field(
        default=None, description="A screening's id, as its screening.submitted event carries it."
    )
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


class ReceiptPage(BaseModel):
    """A reporter's own receipts, newest first."""

    items: list[ReceiptOut]


class RowErrorOut(BaseModel):
    row: int = Field(description="Row number as a spreadsheet shows it (header = 1).")
    field: str
    code: str
    message: str
    graded: bool = Field(
        default=False,
        description="true: the row was still published, flagged incomplete, and graded on"
        " the cells it does say (a blank or unreadable cell); false: the row was rejected.",
    )


class CensusBatchOut(BaseModel):
    """A census upload: how many rows went through and which did not, by row number."""

    batch_id: str
    status: Literal["processing", "completed", "failed"] = Field(
        description="processing: 正在读取; completed: 已读完整个文件; failed: 中途停止 (see"
        " `failure`). The counts of a failed batch are those reached before it stopped."
    )
    rows_total: int = Field(description="Data rows read (the header not counted).")
    rows_accepted: int = Field(
        description="Rows Kafka acknowledged on the census topic, incomplete ones included. A"
        " failed batch keeps these published: they are not withdrawn."
    )
    rows_rejected: int = Field(
        description="Rows not published (no student number, no instrument, no readable"
        " answer), listed in `errors`."
    )
    rows_incomplete: int = Field(
        default=0,
        description="Of `rows_accepted`, rows published flagged incomplete: blanks or unreadable"
        " cells, graded on what they do say; listed in `errors` with `graded` true.",
    )
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
