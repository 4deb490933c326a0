"""Importing and managing contacts: all or nothing, idempotent, numbers turned into pseudonyms.

A file is read off the event loop (the kit's spreadsheet reader, in a worker process within
budgets) and its rows checked in a worker thread: a large or hostile spreadsheet must not
hold up alerts. Any row error and nothing is written; the same bytes imported twice write
nothing and say so: `replayed`, `imported` 0, when the file was first imported and, for a
family file, how many of its students have no family contact on record now (removed since,
e.g. erased on request: an old file must not undo an erasure, so a replay restores nothing).
A dry run does all of it in a savepoint and rolls it back: it answers exactly what the import
would do. Every import is recorded (`adapters/contact_import_records.py`): applied, a dry run,
or refused for bad rows.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_servicekit.rows import Parsed, RowError

from ..adapters import contact_import_records as records
from ..adapters import contacts_repo, roster
from ..adapters.contact_files import table_rows
from ..domain.contact_roster import rows_off_roster
from ..domain.contact_rows import (
    FamilyRow,
    StaffRow,
    parse_family_contacts,
    parse_staff_contacts,
)
from ..domain.contacts import ON_DUTY_REF, FamilyContact, StaffContact


@dataclass
class ImportResult:
    """What an import did, or why it did nothing."""

    kind: str
    rows_total: int
    imported: int
    replayed: bool = False
    import_id: str | None = None
    errors: list[RowError] = field(default_factory=list)
    first_imported_at: datetime | None = None  # a replay: when the file was first imported
    students_without_contacts: int | None = None  # a family replay: of the file's students
    roster_checked: bool = False  # whether notify had heard of the campus's roster
    warnings: list[RowError] = field(default_factory=list)  # rows the roster does not know
    dry_run: bool = False  # what the import would do; nothing was written

    def counts(self) -> dict[str, int]:
        """What its record keeps: counts only, never a row's content."""
        counts = {
            "rows_total": self.rows_total,
            "imported": self.imported,
            "warnings": len(self.warnings),
        }
        if self.errors:
            counts["errors"] = len(self.errors)
        if self.replayed:
            counts["replayed"] = 1
        return counts


async def parse_upload(kind: str, data: bytes) -> Parsed[StaffRow] | Parsed[FamilyRow]:
    """Rows of a staff or family contacts file: read by a worker process, checked in a
    worker thread; raises `SheetRefused`."""
    table = await table_rows(data)

    def parse() -> Parsed[StaffRow] | Parsed[FamilyRow]:
        return parse_staff_contacts(table) if kind == "staff" else parse_family_contacts(table)

    return await anyio.to_thread.run_sync(parse)


def staff_contact(row: StaffRow, campus_id: str, pseudonyms: Pseudonymizer) -> StaffContact:
    person_ref = ON_DUTY_REF if row.number is None else pseudonyms.person_ref(campus_id, row.number)
    return StaffContact(
        person_ref=person_ref,
        mobile=row.mobile,
        email=row.email,
        wecom_user=row.wecom_user,
        dingtalk_user=row.dingtalk_user,
        preferred=row.preferred,
        quiet_hours=row.quiet_hours,
        language=row.language,
    )


def family_contact(row: FamilyRow, campus_id: str, pseudonyms: Pseudonymizer) -> FamilyContact:
    return FamilyContact(
        student_ref=pseudonyms.student_ref(campus_id, row.student_no),
        relation=row.relation,
        name=row.name,
        mobile=row.mobile,
        email=row.email,
        language=row.language,
        rank=row.rank,
    )


async def import_contacts(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    *,
    campus_id: str,
    kind: str,
    data: bytes,
    parsed: Parsed[StaffRow] | Parsed[FamilyRow],
    imported_by: str,
    dry_run: bool = False,
) -> ImportResult:
    """Write a parsed file's contacts in the caller's transaction, or nothing at all (bad
    rows, or a dry run: then rehearsed in a savepoint and rolled back)."""
    digest = hashlib.sha256(data).hexdigest()

    async def recorded(result: ImportResult, status: records.ImportStatus) -> ImportResult:
        """A refused file or a dry run: only its record is written (no row, no contact)."""
        result.import_id = str(uuid.uuid4())
        await records.record_import(
            conn, result.import_id, campus_id, kind, digest, imported_by,
            status=status, counts=result.counts(),
        )  # fmt: skip
        return result

    if parsed.errors:
        refused = ImportResult(kind, parsed.rows_total, 0, errors=parsed.errors, dry_run=dry_run)
        return await recorded(refused, "rejected")
    if not dry_run:
        return await _apply(conn, cipher, pseudonyms, campus_id, kind, digest, parsed, imported_by)
    rehearsal = conn.transaction()
    await rehearsal.start()
    try:
        result = await _apply(
            conn, cipher, pseudonyms, campus_id, kind, digest, parsed, imported_by
        )
    finally:
        await rehearsal.rollback()
    result.dry_run = True
    return await recorded(result, "dry_run")


async def _apply(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    campus_id: str,
    kind: str,
    digest: str,
    parsed: Parsed[StaffRow] | Parsed[FamilyRow],
    imported_by: str,
) -> ImportResult:
    refs = _row_refs(parsed, campus_id, pseudonyms)
    known = await (
        roster.students_on_roster(conn, campus_id, set(refs.values()))
        if kind == "family"
        else roster.staff_holding_roles(conn, campus_id, set(refs.values()))
    )
    warnings = [] if known is None else rows_off_roster(kind, refs.items(), known)
    seen = await records.import_seen(conn, campus_id, kind, digest)
    if seen is not None:
        without = None
        if kind == "family":
            without = await contacts_repo.students_without_family(
                conn, campus_id, set(refs.values())
            )
        return ImportResult(
            kind,
            seen["rows_total"],
            0,
            replayed=True,
            import_id=str(seen["import_id"]),
            first_imported_at=seen["created_at"],
            students_without_contacts=without,
            roster_checked=known is not None,
            warnings=warnings,
        )
    if kind == "staff":
        staff = [
            staff_contact(r, campus_id, pseudonyms)
            for r in parsed.records
            if isinstance(r, StaffRow)
        ]
        written = await contacts_repo.upsert_staff(conn, cipher, campus_id, staff)
    else:
        family = [
            family_contact(r, campus_id, pseudonyms)
            for r in parsed.records
            if isinstance(r, FamilyRow)
        ]
        written = await contacts_repo.replace_family(conn, cipher, campus_id, family)
    result = ImportResult(
        kind,
        parsed.rows_total,
        written,
        import_id=str(uuid.uuid4()),
        roster_checked=known is not None,
        warnings=warnings,
    )
    await records.record_import(
        conn,
        str(result.import_id),
        campus_id,
        kind,
        digest,
        imported_by,
        status="applied",
        counts=result.counts(),
    )
    return result


def _row_refs(
    parsed: Parsed[StaffRow] | Parsed[FamilyRow], campus_id: str, pseudonyms: Pseudonymizer
) -> dict[int, str]:
    """The pseudonym of each row's student (a family file) or person (a staff file; not the
    on-duty row), by spreadsheet row."""
    refs: dict[int, str] = {}
    for r in parsed.records:
        if isinstance(r, FamilyRow):
            refs[r.row] = pseudonyms.student_ref(campus_id, r.student_no)
        elif r.number is not None:
            refs[r.row] = pseudonyms.person_ref(campus_id, r.number)
    return refs
