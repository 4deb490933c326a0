"""Request and response bodies of notify's API (/v1). No body carries a student's name."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from shouwang_contracts.events.notify import NotificationChannel, RecipientKind
from shouwang_contracts.vocabulary import Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RowWarning(BaseModel):
    row: int = Field(description="Spreadsheet row (the header is row 1).")
    field: str = Field(description="The column's field name.")
    code: str = Field(description="Stable code: student_not_on_roster, staff_without_role.")
    message: str = Field(
        description="What to do, in the caller's language (as the rows of a 422 answer it)."
    )


class ImportOut(BaseModel):
    kind: Literal["staff", "family"] = Field(description="Which contacts file.")
    import_id: str = Field(description="Id of the import (the first one, for a repeated file).")
    rows_total: int = Field(description="Data rows in the file.")
    imported: int = Field(description="Contacts written (0 on a replay).")
    replayed: bool = Field(
        description="True when the same file was imported before: nothing changed."
    )
    first_imported_at: datetime | None = Field(
        default=None, description="A replay: when the same file was first imported."
    )
    students_without_contacts: int | None = Field(
        default=None,
        description="A family file's replay: how many of its students have no family contact "
        "on record now (removed since, e.g. erased on request; a replay restores nothing).",
    )
    roster_checked: bool = Field(
        default=False,
        description="Whether the rows were checked against the campus's roster as notify has "
        "heard it from casework's directory (false: none heard yet, so no warnings).",
    )
    warnings: list[RowWarning] = Field(
        default_factory=list,
        description="Rows imported all the same that the roster does not know (a family row's "
        "学号 not on the student roster, a staff row's 工号 holding no role): by row number, "
        "never the number; the roster may come later.",
    )
    message: str | None = Field(
        default=None,
        description="A replay, warnings or a dry run: what happened, for the operator, in the "
        "caller's language (zh-CN unless Accept-Language puts English first).",
    )
    dry_run: bool = Field(
        default=False,
        description="True for `dry_run=true`: `imported`, `replayed` and `warnings` say what the "
        "import would do; nothing was written (`import_id`: the dry run's record).",
    )


ImportStatus = Literal["applied", "dry_run", "rejected"]


class ImportSummary(BaseModel):
    """One contacts import in the list: who, when, what and how many; no row, no personal data."""

    id: str = Field(description="The import's id (`import_id` of its answer).")
    kind: Literal["staff", "family"]
    status: ImportStatus = Field(
        description="applied; dry_run (nothing written); rejected (bad rows, nothing written)."
    )
    counts: dict[str, int] = Field(
        description="`rows_total` (data rows), `imported` (contacts written, or a dry run's "
        "would be), `warnings` (rows the roster does not know), `errors` (a rejected file's "
        "refused rows), `replayed` (1: a dry run of a file imported before). Imports recorded "
        "before these counts have `imported` only."
    )
    errors: int = Field(description="How many rows were refused.")
    imported_by: str = Field(description="Who (their pseudonymous person_ref).")
    at: datetime


class ImportList(BaseModel):
    items: list[ImportSummary] = Field(description="Newest first.")


class StaffContactSummary(BaseModel):
    person_ref: str = Field(
        description="Pseudonymous reference (from 工号/学号); `on_duty` for 值班."
    )
    channels: list[str] = Field(description="Channels this contact has an address on.")
    preferred: str | None = Field(description="Preferred channel.")
    quiet_start: time | None = Field(description="Start of quiet hours (campus time).")
    quiet_end: time | None = Field(description="End of quiet hours (campus time).")
    language: str = Field(description="zh-CN or en.")


class StaffContactBody(_In):
    mobile: str | None = Field(default=None, max_length=20, description="Mobile number.")
    email: str | None = Field(default=None, max_length=254, description="Email address.")
    wecom_user: str | None = Field(default=None, max_length=64, description="WeCom user id.")
    dingtalk_user: str | None = Field(default=None, max_length=64, description="DingTalk user id.")
    preferred: NotificationChannel | None = Field(default=None, description="Preferred channel.")
    quiet_hours: str | None = Field(default=None, max_length=32, description="e.g. 23:00-07:00.")
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Message language.")


class StaffContactOut(StaffContactBody):
    person_ref: str = Field(description="Pseudonymous reference.")


class FamilyMemberBody(_In):
    relation: str = Field(min_length=1, max_length=16, description="e.g. 母亲, 父亲, 监护人.")
    name: str = Field(min_length=1, max_length=64, description="Contact person's name.")
    mobile: str | None = Field(default=None, max_length=20, description="Mobile number.")
    email: str | None = Field(default=None, max_length=254, description="Email address.")
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Message language.")


class FamilyContactsBody(_In):
    members: list[FamilyMemberBody] = Field(
        max_length=10, description="The student's family contacts, first tried first."
    )


class FamilyContactsOut(BaseModel):
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    members: list[FamilyMemberBody]


class DigestHour(_In):
    digest_hour: int = Field(
        strict=True, ge=0, le=23, description="Hour (campus time) of the daily mild digest."
    )


class FamilyMessages(_In):
    counseling_line: str | None = Field(
        default=None,
        max_length=20,
        description="The counseling center's public line (digits and '-'), given to a family "
        "to call back when the on-duty contact has no mobile on file; null: none (the family "
        "is then given the national psychological assistance hotline, 12356).",
    )
    sms_signature: str | None = Field(
        default=None,
        max_length=12,
        description="The SMS signature the carriers registered for the campus, without the "
        "brackets (2 to 12 Chinese characters, letters or digits): family SMS begin with it in "
        "【】; null: 【学校心理中心】.",
    )


class DeliveryOut(BaseModel):
    notification_id: str
    source_event_id: str
    source_event_type: str
    alert_id: str | None
    case_id: str | None
    recipient_kind: RecipientKind
    recipient_role: Role | None
    channel: NotificationChannel
    status: str = Field(
        description="pending, sending, sent, failed, cancelled, call_task, or bundled (an alert"
        " held to go in its burst's one message)."
    )
    attempts: int
    last_error: str | None = Field(description="A stable code, never a server's message.")
    created_at: datetime
    finished_at: datetime | None


class UnreachedOut(BaseModel):
    source_event_id: str
    alert_id: str | None
    recipient_kind: RecipientKind
    recipient_role: Role | None
    reason: str = Field(description="no_contact, no_channel or nobody_holds_role.")
    created_at: datetime


class FailuresOut(BaseModel):
    failed: list[DeliveryOut] = Field(description="Messages given up on a channel.")
    call_tasks: list[DeliveryOut] = Field(description="On-duty calls to make by phone.")
    unreached: list[UnreachedOut] = Field(description="Recipients with no way to reach them.")


class ContactReadOut(BaseModel):
    """One answer that showed contact details (or a look at this trail)."""

    id: int
    at: datetime
    reader_ref: str = Field(description="Who read: the reader's pseudonymous person_ref.")
    role: Role = Field(description="The role the reader's token carried.")
    action: str = Field(
        description="`family.read`, `staff.read`, `family.write`, `staff.write` (a write "
        "answers the contacts written), `staff.delete`, `contact_reads.read` (this trail)."
    )
    student_ref: str | None = Field(description="Whose family's contacts (a pseudonym).")
    person_ref: str | None = Field(description="Whose staff contacts (`on_duty` for 值班).")
    contacts: int = Field(description="Contacts the answer held; 0 when none were on record.")


class ContactReadsPage(BaseModel):
    items: list[ContactReadOut] = Field(description="Newest first.")
    next_before_id: int | None = Field(description="The `before_id` of the next page, if any.")
