"""How a report's reporter learned of it (`channel`): read from the record, kept with the
evidence, graded, and said on the assessment (`report_channel`)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted
from shouwang_contracts.topics import REPORTS
from shouwang_contracts.vocabulary import ReportChannel, Role, Signal
from shouwang_triage.adapters.rows import evidence_of, evidence_row
from shouwang_triage.domain.evidence import ReportEvidence
from shouwang_triage.entrypoints.consumers import report_input
from shouwang_triage.service_layer.grading import GradingInput

from .examples import NOW
from .fakes import FakeBatchStore
from .test_service_layer import GRADED, RAISED, grade


def _envelope(channel: ReportChannel) -> Envelope[ReportSubmitted]:
    payload = ReportSubmitted(
        report_id=str(uuid.uuid4()),
        student_ref="s1",
        reporter_ref="r1",
        reporter_role=Role.RESIDENCE_COUNSELOR,
        signals=[Signal.PERSISTENT_LOW_MOOD],
        observed_at=NOW,
        received_at=NOW,
        channel=channel,
    )
    return Envelope.wrap(payload, source="/shouwang/intake", campus_id="demo", subject="s1")


def _record(value: bytes) -> Any:
    return SimpleNamespace(value=value, headers=[], topic=REPORTS)


def test_a_report_record_says_its_channel_and_an_older_one_reads_as_observed() -> None:
    envelope = _envelope(ReportChannel.SELF_REFERRAL)
    item = report_input(_record(envelope.to_bytes()))
    assert isinstance(item.evidence, ReportEvidence)
    assert item.evidence.channel == "self_referral"

    older = json.loads(envelope.to_bytes())
    del older["data"]["channel"]  # as intake wrote reports before the field
    evidence = report_input(_record(json.dumps(older).encode())).evidence
    assert isinstance(evidence, ReportEvidence)
    assert evidence.channel == "observed"


def test_the_channel_is_stored_with_the_evidence_and_rows_before_it_read_as_observed() -> None:
    evidence = ReportEvidence(
        "r", "ref", "dorm_leader", frozenset({"sleep_disturbance"}), NOW, NOW, "family_call"
    )
    row = evidence_row("demo", "s1", evidence)
    assert row["channel"] == "family_call"
    stored = {**row, "evidence_id": "r", "observed_at": NOW, "received_at": NOW}
    assert evidence_of(stored) == evidence
    assert evidence_of({**stored, "channel": None}).channel == "observed"  # before 0010


def _report(*signals: str, channel: str) -> GradingInput:
    evidence = ReportEvidence(
        str(uuid.uuid4()), "r1", "residence_counselor", frozenset(signals), NOW, NOW, channel
    )
    return GradingInput(
        str(uuid.uuid4()), REPORTS, "demo", f"s-{uuid.uuid4().hex[:6]}", None, evidence, "urgent"
    )


async def test_a_self_referral_is_graded_moderate_and_its_assessment_says_so() -> None:
    store = FakeBatchStore()
    await grade(store, _report("persistent_low_mood", "sleep_disturbance", channel="self_referral"))
    [assessment] = store.events(GRADED)
    data = assessment["data"]
    assert data["report_channel"] == "self_referral"
    assert data["severity"] == "moderate"
    [reason] = [r for r in data["reasons"] if r["rule_id"] == "help_seeking.self_referral"]
    assert "主动求助" in reason["text_zh"]
    assert "asked for help" in reason["text_en"]
    [alert] = store.events(RAISED)
    assert alert["data"]["severity"] == "moderate"
    assert alert["data"]["owner_role"] == "community_psych_teacher"


async def test_the_same_signals_observed_grade_mild_and_say_observed() -> None:
    store = FakeBatchStore()
    await grade(store, _report("persistent_low_mood", "sleep_disturbance", channel="observed"))
    [assessment] = store.events(GRADED)
    assert assessment["data"]["report_channel"] == "observed"
    assert assessment["data"]["severity"] == "mild"


async def test_a_later_input_still_reads_the_stored_self_referral() -> None:
    store = FakeBatchStore()
    first = _report("sleep_disturbance", channel="self_referral")
    later_evidence = ReportEvidence(
        str(uuid.uuid4()),
        "r2",
        "dorm_leader",
        frozenset({"social_withdrawal"}),
        NOW + timedelta(seconds=1),
        NOW + timedelta(seconds=1),
    )
    later = GradingInput(
        str(uuid.uuid4()), REPORTS, "demo", first.student_ref, None, later_evidence, "urgent"
    )
    await grade(store, first)
    await grade(store, later)
    regraded = store.events(GRADED)[-1]["data"]
    assert regraded["report_channel"] == "observed"  # the trigger's channel
    assert regraded["severity"] == "moderate"  # the stored self-referral still counts
    assert "help_seeking.self_referral" in [r["rule_id"] for r in regraded["reasons"]]
