"""Request and response bodies of the records API: roster imports, the student file and the
audit log (documented in the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from shouwang_contracts.vocabulary import ReportChannel, Role

from ..adapters.roster import ImportKind, ImportMode, ImportStatus


class RowErrorOut(BaseModel):
    """One refused row of a roster, in both languages as the import record keeps it."""

    row: int = Field(description="The row's number in the file (1 is the header).")
    field: str = Field(description="The column at fault.")
    code: str = Field(description="Stable machine-readable reason.")
    message: str = Field(description="What is wrong, zh-CN.")
    message_en: str = Field(description="What is wrong, English.")


class ScopeWarningOut(BaseModel):
    """An assignment imported for a scope in which no active student is placed."""

    code: Literal["scope_without_students"]
    scope: str = Field(description="`kind:value`, e.g. `building:8栋`.")
    message: str = Field(description="Check the spelling against the student roster.")


class RosterImportOut(BaseModel):
    """The record of one import: what it was, what it did, and the rows it refused."""

    id: str
    kind: ImportKind
    mode: ImportMode
    status: ImportStatus
    file_name: str
    counts: dict[str, int] = Field(
        description="Rows read, and what changed, by kind (staff: also `people_listed`,"
        " `people_unlisted`, and the open cases of people taken off: `cases_handed_over` to"
        " whoever is responsible now, `cases_unowned` with nobody; `follow_ups_handed_over`:"
        " scheduled follow-ups they were to make, gone to the case's owner or nobody)."
    )
    errors: list[RowErrorOut] = Field(description="Refused rows (a rejected import).")
    at: datetime
    warnings: list[ScopeWarningOut] = Field(
        default_factory=list, description="Staff imports: scopes nobody is placed in."
    )


class RosterImportSummary(BaseModel):
    """One import in the list: its refused rows are only counted."""

    id: str
    kind: ImportKind
    mode: ImportMode
    status: ImportStatus
    file_name: str
    counts: dict[str, int]
    errors: int = Field(description="How many rows were refused.")
    at: datetime


class RosterImportList(BaseModel):
    items: list[RosterImportSummary] = Field(description="Newest first.")


class FileAccessOut(BaseModel):
    break_glass: bool = Field(description="The file was opened under a break-the-glass grant.")
    free_text: bool = Field(
        default=True,
        description="Free text (notes, reasons, plan texts, locations) is opened; false for a "
        "reader of structured facts only, whose file says `<name>_withheld: true` instead.",
    )


class FileReportOut(BaseModel):
    """One report in the file, as intake received it. Besides the fields named here: the
    reporter's pseudonym, where it was seen and the note, opened for the reader (`location`,
    `note`; `<name>_withheld: true` for a reader of structured facts only), `text_erased_at`
    once the file's text was erased."""

    model_config = ConfigDict(extra="allow")

    report_id: str
    reporter_role: Role = Field(description="The reporter's role, i.e. the source tier.")
    signals: list[str] = Field(description="The signals reported (vocabulary ids).")
    channel: ReportChannel = Field(
        description="How the reporter learned of it: `observed` (seen or heard), "
        "`self_referral` (the student asked for help), `family_call` (a family member "
        "called), `counseling_session` (found in a counseling session). `observed` for "
        "reports filed before reports said how."
    )
    observed_at: datetime
    received_at: datetime


class StudentFileOut(BaseModel):
    """One student's file: every report, screening, assessment and case (with its history,
    notes, plans, follow-ups and referrals), free text opened for the reader."""

    student_ref: str
    student: dict[str, Any] | None = Field(description="The roster's entry, if any.")
    reports: list[FileReportOut]
    screenings: list[dict[str, Any]]
    assessments: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    access: FileAccessOut


class BreakGlassIn(BaseModel):
    """Why the file must be opened now, by someone outside the student's scope."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=15, max_length=2000)
    ] = Field(
        description="Written reason, at least 15 characters besides leading and trailing "
        "spaces (sealed at rest; the counseling center reviews it)."
    )
    minutes: StrictInt | None = Field(
        default=None, ge=5, le=24 * 60, description="How long; capped by the configured maximum."
    )


class BreakGlassReviewIn(BaseModel):
    """A tier-6 reviewer's verdict on a break-the-glass."""

    outcome: Literal["justified", "unjustified"] = Field(description="Was the access justified?")
    note: str | None = Field(default=None, max_length=2000, description="Why, briefly.")


class BreakGlassGrantOut(BaseModel):
    """A time-limited opening of one student's file by someone outside its scope."""

    id: str
    person_ref: str
    role: str
    student_ref: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_outcome: str | None
    review_note: str | None


class BreakGlassGrantList(BaseModel):
    items: list[BreakGlassGrantOut] = Field(description="Newest first.")


class AuditEntryOut(BaseModel):
    """One access to a student's data (or to the log itself)."""

    id: int
    at: datetime
    principal_ref: str
    role: str
    student_ref: str | None
    action: str = Field(
        description="`file.read`, `file.read.refused`, `break_glass.open`, `case.queue.read`, …"
    )
    reason: str | None
    break_glass: bool
    covers_until: datetime | None = Field(
        default=None,
        description="Set on a listing read (`case.queue.read`, `case.awaiting.read`, "
        "`student.card.read`, `student.pick.read`): the page may have shown the student to "
        "this reader again "
        "from `at` up to this time without another entry; a showing after it has an entry of "
        "its own. Null on every other entry: one entry per read.",
    )


class AuditPage(BaseModel):
    items: list[AuditEntryOut] = Field(description="Newest first.")
    next_before_id: int | None = Field(description="The `before_id` of the next page, if any.")
