"""A batch of warnings applied set-wise (`service_layer.warning_sets`) leaves exactly what the
same events applied one at a time leave: the same cases, owners, versions, histories, alerts,
attachments and public events in the same order per student, in a dozen statements for the
batch instead of about ten per event; a redelivered batch changes nothing; a stale case is
refused whole; one poison event refuses its batch, and record by record only it is refused."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from shouwang_casework.adapters import case_sets
from shouwang_casework.adapters import cases as cases_repo
from shouwang_casework.adapters.db import campus_transaction
from shouwang_casework.domain.guards import CaseRuleViolation
from shouwang_casework.entrypoints.consumers import (
    CASES_CONSUMER,
    _warning,
    apply_once,
    apply_warnings,
    warnings_first,
)
from shouwang_casework.service_layer import warning_sets, warnings
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.vocabulary import Role, Severity

sys.path.insert(0, str(Path(__file__).parent))  # the shared helpers next to this file
from cases_support import CIPHER, PSEUDONYMS, casework_of, escalation, import_roster, warning

pytestmark = pytest.mark.integration

# Students A, B, E of the sample roster (residence counselors own their cases, a teacher and
# the centre hold the campus); C, D, F are not on it (their cases open unowned).
A, B, C, D, E, F = (
    "2024020001",
    "2024030002",
    "2099990001",
    "2099990002",
    "2024010003",
    "2099990003",
)


async def snapshot(pool: asyncpg.Pool, campus: str) -> dict[str, Any]:
    """What casework holds about a campus's students, by student number, comparable across
    campuses (person refs as owned or not, ids as positions)."""
    refs = {PSEUDONYMS.student_ref(campus, no): no for no in (A, B, C, D, E, F)}
    async with campus_transaction(pool, campus) as conn:
        cases = await conn.fetch("SELECT * FROM cases ORDER BY student_ref")
        history = await conn.fetch(
            "SELECT c.student_ref, h.seq, h.kind, h.detail FROM case_history h"
            " JOIN cases c USING (case_id) ORDER BY c.student_ref, h.seq"
        )
        alerts = await conn.fetch(
            "SELECT student_ref, owner_role, escalation_level FROM alerts"
            " ORDER BY student_ref, raised_at, escalation_level"
        )
        attached = await conn.fetch(
            "SELECT c.student_ref, a.severity FROM case_assessments a JOIN cases c USING (case_id)"
            " ORDER BY c.student_ref, a.severity"
        )
        outbox = await conn.fetch("SELECT payload FROM outbox ORDER BY id")
    out: dict[str, Any] = {}
    for row in cases:
        out.setdefault(refs[row["student_ref"]], {})["case"] = (
            row["state"],
            row["severity"],
            row["owner_role"],
            row["owner_ref"] is not None,
            row["version"],
            len(row["report_ids"]),
        )
    for row in history:
        entry = out[refs[row["student_ref"]]]
        entry.setdefault("seqs", []).append(row["seq"])
        entry.setdefault("history", []).append(row["kind"])
    for row in alerts:
        entry = out[refs[row["student_ref"]]]
        entry.setdefault("alerts", []).append((row["owner_role"], row["escalation_level"]))
    for row in attached:
        out[refs[row["student_ref"]]].setdefault("attached", []).append(row["severity"])
    for row in outbox:
        event = json.loads(bytes(row["payload"]))
        if event["subject"] in refs:  # not the roster import's directory entries
            student = out.setdefault(refs[event["subject"]], {})
            student.setdefault("events", []).append(event["type"])
    return out


def census(campus: str) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
    """What comes before a batch (E's case, already open) and the batch: critical, moderate and
    quiet rows mixed; two alerts of one student; an alert without its assessment; an
    escalation behind its raise; one event delivered twice."""
    ref = {no: PSEUDONYMS.student_ref(campus, no) for no in (A, B, C, D, E, F)}
    before = warning(campus, ref[E], Severity.MILD, Role.RESIDENCE_COUNSELOR)
    a1 = warning(campus, ref[A], Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    a2 = warning(campus, ref[A], Severity.SEVERE, Role.COMMUNITY_PSYCH_TEACHER)
    b = warning(campus, ref[B], Severity.CRITICAL, Role.RESIDENCE_COUNSELOR)
    c = warning(campus, ref[C], Severity.SEVERE, Role.COUNSELING_CENTER)
    d = warning(campus, ref[D], Severity.NONE, Role.RESIDENCE_COUNSELOR)
    e = warning(campus, ref[E], Severity.SEVERE, Role.COUNSELING_CENTER)
    f = warning(campus, ref[F], Severity.MODERATE, Role.RESIDENCE_COUNSELOR)
    climbed = escalation(
        campus,
        ref[F],
        f.alert.data.alert_id,
        Severity.MODERATE,
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
    )
    batch = [
        a1.assessment,
        b.alert,
        b.assessment,
        a1.alert,
        c.alert,
        d.assessment,
        e.assessment,
        a2.assessment,
        a2.alert,
        e.alert,
        f.alert,
        climbed,
        b.alert,
    ]
    return [before.assessment, before.alert], batch


async def test_a_set_leaves_what_one_at_a_time_leaves_in_a_dozen_statements(
    client: httpx.AsyncClient, pool: asyncpg.Pool, casework_dsn: str, kafka_bootstrap: str
) -> None:
    alone, together = (f"campus-{uuid.uuid4().hex[:8]}" for _ in range(2))
    casework = casework_of(pool, kafka_bootstrap)
    for campus in (alone, together):
        await import_roster(client, campus)
    before, batch = census(alone)
    for envelope in before + [batch[n] for n in warnings_first(batch)]:
        await apply_once(casework, envelope, consumer=CASES_CONSUMER, apply=_warning)
    expected = await snapshot(pool, alone)

    before, batch = census(together)
    for envelope in before:
        await apply_once(casework, envelope, consumer=CASES_CONSUMER, apply=_warning)
    sent: list[str] = []

    async def counted(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: sent.append(logged.query))

    counting = await asyncpg.create_pool(casework_dsn, min_size=1, max_size=1, init=counted)
    try:
        outcomes = await apply_warnings(casework_of(counting, kafka_bootstrap), batch)
        assert outcomes == ["applied"] * 12 + ["duplicate"]
        # BEGIN, the locks, the campus, the claims; F's raise and escalation one at a time
        # (eight); then for the other eleven events three reads, and the cases opened,
        # updated, their history, attachments, alerts, outbox: nine, however many events;
        # COMMIT. (asyncpg learning a type, once per connection, is not counted.)
        learning = ("typeinfo_tree", "set_config('jit'", "current_setting('jit')")
        sent = [q for q in sent if not any(part in q for part in learning)]
        sent = [q for q in sent if not q.startswith("SELECT pg_advisory_unlock_all")]
        assert len(sent) <= 22, "\n".join(" ".join(q.split())[:70] for q in sent)
    finally:
        await counting.close()

    got = await snapshot(pool, together)
    assert got == expected
    # The batch did all it should: A's one case took both alerts and both assessments, B's
    # critical case is owned, C's alert opened a case alone, D's quiet row opened nothing,
    # E's case (opened before, version 1) was updated, F's alert climbed a tier.
    assert got[A]["case"][:4] == ("open", "severe", "community_psych_teacher", True)
    assert got[A]["alerts"] == [("residence_counselor", 0), ("community_psych_teacher", 0)]
    assert got[A]["attached"] == ["moderate", "severe"]
    assert got[A]["events"].count("shouwang.case.opened") == 1
    assert got[B]["case"][:4] == ("open", "critical", "residence_counselor", True)
    assert got[C]["case"][:4] == ("open", "severe", "counseling_center", False)
    assert D not in got
    assert got[E]["case"][1] == "severe"
    assert got[E]["case"][4] > 1
    assert got[F]["alerts"] == [("community_psych_teacher", 1)]
    for student in got.values():
        assert student["seqs"] == list(range(1, len(student["seqs"]) + 1))

    # Redelivered whole, nothing is applied twice.
    again = await apply_warnings(casework, batch)
    assert again == ["duplicate"] * 13
    assert await snapshot(pool, together) == expected
    # Claimed by another consumer (a replay), the events are applied and change nothing: the
    # alerts and assessments are known.
    replayed = await apply_warnings(casework, batch, consumer="casework.replay")
    assert replayed.count("applied") == 12
    assert await snapshot(pool, together) == expected


async def test_a_case_changed_since_it_was_read_is_refused_with_none_of_its_history(
    client: httpx.AsyncClient, pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    casework = casework_of(pool, kafka_bootstrap)
    w = warning(campus, PSEUDONYMS.student_ref(campus, A), Severity.MILD, Role.RESIDENCE_COUNSELOR)
    await apply_once(casework, w.alert, consumer=CASES_CONSUMER, apply=_warning)
    async with campus_transaction(pool, campus) as conn:
        case = cases_repo.case_of_row(await conn.fetchrow("SELECT * FROM cases"))
        history = await conn.fetchval("SELECT count(*) FROM case_history")
        read_at = case.version - 1  # as if another writer saved it since
        case.assign(owner_ref="per_x", owner_role=Role.COUNSELING_CENTER, at=case.updated_at)
        rows = cases_repo.history_rows(case, CIPHER)
        case.version += 1
        with pytest.raises(cases_repo.StaleCase):
            async with conn.transaction():
                await case_sets.write_warning_set(
                    conn,
                    campus,
                    opened=[],
                    updated=[(case, read_at)],
                    history=[(case.case_id, history + 1, rows[0])],
                    attachments=[],
                    alerts=[],
                )
        assert await conn.fetchval("SELECT count(*) FROM case_history") == history
        assert await conn.fetchval("SELECT owner_ref FROM cases") != "per_x"


async def test_one_poison_event_refuses_its_set_and_alone_only_it_is_refused(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The consumer runtime applies a refused batch again record by record (servicekit's
    # tests): the set must be refused whole, with nothing of it written, for that to be safe.
    campus = f"campus-{uuid.uuid4().hex[:8]}"
    await import_roster(client, campus)
    casework = casework_of(pool, kafka_bootstrap)
    students = [PSEUDONYMS.student_ref(campus, no) for no in (A, B, C)]
    ws = [warning(campus, ref, Severity.SEVERE, Role.RESIDENCE_COUNSELOR) for ref in students]
    poison = ws[1].alert.data.alert_id
    decide = warnings.alert_case

    def refusing(active: Any, envelope: Envelope[Any], owners: list[str], **kw: Any) -> Any:
        if envelope.data.alert_id == poison:
            raise CaseRuleViolation("test_refusal", "refused by a rule")
        return decide(active, envelope, owners, **kw)

    monkeypatch.setattr(warning_sets, "alert_case", refusing)
    monkeypatch.setattr(warnings, "alert_case", refusing)
    batch = [e for w in ws for e in (w.assessment, w.alert)]
    with pytest.raises(PoisonEvent, match="refused by a rule"):
        await apply_warnings(casework, batch)
    async with campus_transaction(pool, campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0
        assert await conn.fetchval("SELECT count(*) FROM processed_events") == 0

    refused = []
    for envelope in batch:
        try:
            assert await apply_warnings(casework, [envelope]) == ["applied"]
        except PoisonEvent:
            refused.append(envelope.id)
    assert refused == [ws[1].alert.id]
    async with campus_transaction(pool, campus) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 3
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 2
