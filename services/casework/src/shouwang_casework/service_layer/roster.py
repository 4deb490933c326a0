"""Roster imports: students and their placements, and who holds which role for which scope.

An import is all-or-nothing: a file with any bad row changes nothing but its own record in
`roster_imports` (the rows it refused, by number). An import is a whole roster
(`snapshot`, the default): students missing from it have left (inactive, file kept) and
assignments missing from it end. `upsert` only adds and updates. A dry run says what would
change and writes nothing but the record. Re-importing a file changes nothing.

Staff are identified by 工号/学号, and `person_ref = Pseudonymizer.person_ref(campus, number)`:
the identity provider's token `sub` must be that number for scope checks to find the person.
Changed placements and responsibilities leave as `StudentRouting` events through the outbox:
pseudonyms, the college and keyed hashes of the finer placement only; never names, numbers,
contact details, nor class, building, floor or room in the clear. Who joins or leaves the
staff roster leaves as `StaffListingChanged` (the pseudonym and the time): a snapshot says
who left, any import who is listed (newly or again); an `upsert` says nothing of people it
does not mention. A snapshot that takes someone off hands their open cases over to whoever
is responsible for the student now, or leaves them unowned (`handover`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import asyncpg
from shouwang_contracts.auth import Placement
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import (
    ResponsibleStaff,
    StaffListingChanged,
    StudentRouting,
)
from shouwang_contracts.pseudonym import PlacementHasher, Pseudonymizer
from shouwang_contracts.trace import current_traceparent
from shouwang_contracts.vocabulary import Role
from shouwang_servicekit.rows import Parsed, RowError
from shouwang_servicekit.spreadsheets import NOT_A_TABLE, SheetRefused

from ..adapters import outbox
from ..adapters import roster as repo
from ..adapters.roster import ImportKind, ImportMode, ImportStatus
from ..domain.guards import MissingRecord
from ..domain.roster import (
    Assignment,
    ResponsibleIndex,
    StudentPlacement,
    affected_by,
    plan_assignment_changes,
    plan_student_changes,
    scopes_without_students,
)
from ..domain.roster_rows import MAX_ROWS, parse_staff, parse_students
from .access import Caller, CaseNotFound
from .handover import hand_over_cases

SOURCE = "/shouwang/casework"
MAX_ERRORS_KEPT = 1000


class UnreadableRoster(MissingRecord):
    """The upload is no table this import reads: 415 when it is not a table at all (legacy
    Excel, no known encoding), 413 over a limit of the reader (rows, columns, unpacked size,
    its time and memory), 422 when the table is not a roster."""

    def __init__(self, exc: SheetRefused) -> None:
        super().__init__(exc.code, exc.message_en, detail_zh=exc.message)
        self.status = 415 if exc.code in NOT_A_TABLE else exc.status


@dataclass(frozen=True, slots=True)
class RosterFile:
    """An uploaded roster: its name as sent and its bytes."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did. With `refused_rows`, nothing but its record was written."""

    record: repo.RosterImport
    refused_rows: list[RowError]
    scopes_without_students: list[tuple[str, str]]


async def read_students(upload: RosterFile) -> Parsed[Any]:
    """Parse a student roster off the event loop (a 20,000-row XLSX takes seconds): the
    file in the kit's worker process, the rows in a thread."""
    return await _parse(upload, parse_students)


async def read_staff(upload: RosterFile) -> Parsed[Any]:
    """Parse a staff roster off the event loop."""
    return await _parse(upload, parse_staff)


async def _parse(
    upload: RosterFile, parse: Callable[[list[Sequence[object]]], Parsed[Any]]
) -> Parsed[Any]:
    try:
        table: list[Sequence[object]] = list(await repo.read_table(upload.data, MAX_ROWS))
    except SheetRefused as exc:
        raise UnreadableRoster(exc) from exc
    return await anyio.to_thread.run_sync(lambda: parse(table))


async def import_students(
    conn: asyncpg.Connection,
    caller: Caller,
    pseudonymizer: Pseudonymizer,
    upload: RosterFile,
    parsed: Parsed[Any],
    *,
    mode: ImportMode,
    dry_run: bool,
    placement: PlacementHasher,
) -> ImportOutcome:
    """Import students and their placements; publish the directory entries that changed."""
    campus_id = caller.principal.campus_id
    await _lock_campus_roster(conn, campus_id)
    counts: dict[str, int] = {"rows": parsed.rows_total}
    if not parsed.errors:
        changes = plan_student_changes(
            await repo.known_students(conn), parsed.records, snapshot=mode == "snapshot"
        )
        counts |= changes.counts()
        if not dry_run:
            ref = {
                s.student_no: pseudonymizer.student_ref(campus_id, s.student_no)
                for s in (*changes.to_save, *changes.deactivated)
            }
            await repo.save_students(
                conn, campus_id, [(ref[s.student_no], s) for s in changes.to_save]
            )
            await repo.deactivate_students(conn, [s.student_no for s in changes.deactivated])
            counts["directory_entries"] = await enqueue_directory(
                conn,
                campus_id,
                [(ref[s.student_no], s.placement, a) for s, a in changes.directory_changes],
                placement,
            )
    record = await _record(conn, caller, "students", mode, upload, parsed, counts, dry_run)
    return ImportOutcome(record, parsed.errors, [])


async def import_staff(
    conn: asyncpg.Connection,
    caller: Caller,
    pseudonymizer: Pseudonymizer,
    upload: RosterFile,
    parsed: Parsed[Any],
    *,
    mode: ImportMode,
    dry_run: bool,
    placement: PlacementHasher,
    cipher: NoteCipher,
) -> ImportOutcome:
    """Import who holds which role for which scope; republish directory entries it touches;
    hand over the open cases of people a snapshot takes off (a dry run counts them)."""
    campus_id = caller.principal.campus_id
    await _lock_campus_roster(conn, campus_id)
    counts: dict[str, int] = {"rows": parsed.rows_total}
    unmatched: list[tuple[str, str]] = []
    if not parsed.errors:
        people: dict[str, tuple[str, str]] = {}
        incoming: list[Assignment] = []
        for member in parsed.records:
            person_ref = pseudonymizer.person_ref(campus_id, member.staff_no)
            people[person_ref] = (member.staff_no, member.name)
            incoming.append(
                Assignment(person_ref, member.role, member.scope_kind, member.scope_value)
            )
        snapshot = mode == "snapshot"
        changes = plan_assignment_changes(
            await repo.known_assignments(conn), incoming, snapshot=snapshot
        )
        counts |= {"people": len(people), **changes.counts()}
        # Who joins or leaves the staff roster: services that keep something of staff (notify's
        # contact addresses) end it after a grace, and keep it for someone listed again.
        on_file = await repo.known_people(conn)
        listed = sorted(people.keys() - on_file)
        unlisted = sorted(on_file - people.keys()) if snapshot else []
        counts |= {"people_listed": len(listed), "people_unlisted": len(unlisted)}
        placements = await repo.active_placements(conn)
        # Usually a spelling that differs between the two exports (8栋 vs 8号楼): the
        # assignment is kept, but nobody is covered by it until the names agree.
        unmatched = scopes_without_students(placements.values(), incoming)
        counts["scopes_without_students"] = len(unmatched)
        dropped = {a.holder for a in changes.removed}
        if dry_run:
            # The handovers depend on the roster as written: write it in a savepoint, count,
            # and roll every bit of it back.
            rehearsal = conn.transaction()
            await rehearsal.start()
            try:
                await repo.save_staff(
                    conn, campus_id, people, changes.added, changes.removed, snapshot=snapshot
                )
                handovers = await hand_over_cases(conn, cipher, campus_id, dropped)
            finally:
                await rehearsal.rollback()
            counts |= handovers.counts()
        else:
            await repo.save_staff(
                conn, campus_id, people, changes.added, changes.removed, snapshot=snapshot
            )
            counts |= (await hand_over_cases(conn, cipher, campus_id, dropped)).counts()
            await enqueue_listing(conn, campus_id, listed=listed, unlisted=unlisted)
            touched = affected_by(placements, changes.added | changes.removed)
            counts["directory_entries"] = await enqueue_directory(
                conn,
                campus_id,
                [(ref, placements[ref], True) for ref in sorted(touched)],
                placement,
            )
    record = await _record(conn, caller, "staff", mode, upload, parsed, counts, dry_run)
    return ImportOutcome(record, parsed.errors, unmatched)


async def recent_imports(
    conn: asyncpg.Connection, caller: Caller, limit: int
) -> list[repo.RosterImport]:
    """The campus's latest imports, newest first."""
    return await repo.recent_imports(conn, limit)


async def roster_import(
    conn: asyncpg.Connection, caller: Caller, import_id: str
) -> repo.RosterImport:
    """One import's record: status, counts, and every refused row by number."""
    record = await repo.get_import(conn, import_id)
    if record is None:
        raise CaseNotFound("import_not_found", "No such roster import")
    return record


async def enqueue_directory(
    conn: asyncpg.Connection,
    campus_id: str,
    students: Iterable[tuple[str, StudentPlacement, bool]],
    placement: PlacementHasher,
) -> int:
    """Put a StudentRouting per (student_ref, placement, active) in the outbox; returns how
    many.

    Responsible staff come from the assignments as they stand in this transaction. Entries
    carry pseudonyms, the college and keyed hashes of the finer placement: never names,
    numbers, contact details, nor class, building, floor or room in the clear.
    """
    index = ResponsibleIndex(await repo.known_assignments(conn))
    now = datetime.now(UTC)
    traceparent = current_traceparent()
    envelopes = []
    for student_ref, placed, active in students:
        responsible = index.responsible(placed) if active else []
        where = Placement(
            college=placed.college,
            class_name=placed.class_name,
            building=placed.building,
            floor=placed.floor,
            room=placed.room,
        )
        entry = StudentRouting(
            student_ref=student_ref,
            active=active,
            college=placed.college,
            placement_refs=[placement.placement_ref(campus_id, g) for g in where.finer_grants()],
            responsible=[ResponsibleStaff(role=Role(r), person_ref=p) for r, p in responsible],
            updated_at=now,
        )
        envelopes.append(
            Envelope.wrap(
                entry,
                source=SOURCE,
                campus_id=campus_id,
                subject=student_ref,
                traceparent=traceparent,
            )
        )
    # One pipelined statement, not a round trip per student: 20,000 entries took ~10 s.
    await outbox.enqueue_many(conn, envelopes)
    return len(envelopes)


async def enqueue_listing(
    conn: asyncpg.Connection, campus_id: str, *, listed: list[str], unlisted: list[str]
) -> None:
    """Put a StaffListingChanged per person who joined or left the staff roster in the
    outbox, in the import's transaction: the pseudonym, listed or not, and when; never a
    name or 工号. Keyed by the person, so a leaving and a re-listing stay in order."""
    now = datetime.now(UTC)
    traceparent = current_traceparent()
    await outbox.enqueue_many(
        conn,
        [
            Envelope.wrap(
                StaffListingChanged(person_ref=person_ref, listed=is_listed, changed_at=now),
                source=SOURCE,
                campus_id=campus_id,
                subject=person_ref,
                traceparent=traceparent,
            )
            for is_listed, people in ((False, unlisted), (True, listed))
            for person_ref in people
        ],
    )


async def _lock_campus_roster(conn: asyncpg.Connection, campus_id: str) -> None:
    # Two imports of one campus at once would each diff against a stale roster.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('roster:' || $1))", campus_id)


async def _record(
    conn: asyncpg.Connection,
    caller: Caller,
    kind: ImportKind,
    mode: ImportMode,
    upload: RosterFile,
    parsed: Parsed[Any],
    counts: dict[str, int],
    dry_run: bool,
) -> repo.RosterImport:
    status: ImportStatus = "rejected" if parsed.errors else ("dry_run" if dry_run else "applied")
    if parsed.errors:
        counts["errors"] = len(parsed.errors)
    return await repo.record_import(
        conn,
        campus_id=caller.principal.campus_id,
        kind=kind,
        mode=mode,
        file_name=upload.name[:255],
        file_sha256=upload.sha256,
        status=status,
        counts=counts,
        errors=[e.as_dict() for e in parsed.errors[:MAX_ERRORS_KEPT]],
        actor_ref=caller.person_ref,
    )
