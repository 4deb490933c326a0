"""The projection rules: every event folds into the row of what it names, order-free."""

from __future__ import annotations

import json
import random
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.casework import PlanUpdated
from shouwang_contracts.events.triage import AssessmentGraded
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.vocabulary import ReportChannel, Role, Severity
from shouwang_stats.domain.figures import bucket_of
from shouwang_stats.domain.projection import (
    ROW_KEYS,
    AlertRow,
    AssessmentRow,
    CaseRow,
    FollowUpRow,
    NotificationRow,
    Projection,
    ReferralRow,
    Row,
)
from shouwang_stats.service_layer.events import rows_of
from shouwang_stats.service_layer.labels import label
from shouwang_stats.service_layer.rebuild import shares
from stats_seed_year import SeedYear, seed_year

YEAR = seed_year("campus-unit")


def fold(events: list[Envelope[Any]]) -> Projection:
    projection = Projection()
    for envelope in events:
        projection.fold_all(rows_of(envelope.to_bytes(), envelope.kafka_headers()))
    return projection


def rows(projection: Projection, kind: type[Row]) -> list[Any]:
    return list(projection.rows[kind].values())


def test_the_seed_year_folds_into_fifty_cases_and_sixty_four_relieved_follow_ups() -> None:
    projection = fold(YEAR.events)
    cases = rows(projection, CaseRow)
    assert len(cases) == 50
    buckets = [bucket_of(c.severity) for c in cases]
    assert (buckets.count("severe"), buckets.count("moderate"), buckets.count("mild")) == (
        5,
        12,
        33,
    )
    relieved = [
        f
        for f in rows(projection, FollowUpRow)
        if f.status == "completed" and f.finding == "relieved"
    ]
    assert len(relieved) == YEAR.relieved == 64
    assert sum(not c.is_closed for c in cases) == 4
    referrals = rows(projection, ReferralRow)
    assert sorted(r.status for r in referrals) == ["not_accepted"] + ["returned"] * 4
    assert all(a.acknowledged_at is not None for a in rows(projection, AlertRow))
    notifications = rows(projection, NotificationRow)
    assert (
        sorted((n.channel, n.outcome) for n in notifications)
        == [("sms", "failed")] + [("wecom", "delivered")] * 5
    )
    assert {n.reason for n in notifications if n.outcome == "failed"} == {"channel_error"}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), copies=st.integers(min_value=1, max_value=3))
def test_any_order_and_any_duplicates_give_the_same_rows(seed: int, copies: int) -> None:
    shuffled = YEAR.events * copies
    random.Random(seed).shuffle(shuffled)
    assert fold(shuffled).rows == fold(YEAR.events).rows


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_two_partial_projections_merge_into_the_whole(seed: int) -> None:
    """What a rebuild folded and what the live consumers folded meanwhile join up."""
    rng = random.Random(seed)
    first, second = [], []
    for envelope in YEAR.events:
        (first if rng.random() < 0.5 else second).append(envelope)
        if rng.random() < 0.1:  # some events reach both
            (second if rng.random() < 0.5 else first).append(envelope)
    merged = fold(first)
    for table in fold(second).rows.values():
        for row in table.values():
            merged.fold(row)
    assert merged.rows == fold(YEAR.events).rows


def test_a_reopened_case_is_not_closed_and_its_latest_closure_counts() -> None:
    t = [datetime(2025, 3, d, tzinfo=UTC) for d in range(1, 6)]
    projection = Projection()
    projection.fold_all(
        [
            CaseRow("c", "x", "s", opened_at=t[0], severity="mild", state="open", state_at=t[0]),
            CaseRow("c", "x", "s", state="closed", state_at=t[1], closed_at=t[1], outcome="stable"),
            CaseRow("c", "x", "s", state="monitoring", state_at=t[2], severity="moderate"),
        ]
    )
    [case] = rows(projection, CaseRow)
    assert (case.state, case.severity, case.is_closed) == ("monitoring", "moderate", False)
    projection.fold(
        CaseRow("c", "x", "s", state="closed", state_at=t[3], closed_at=t[3], outcome="relieved")
    )
    assert (case.state, case.closed_at, case.outcome) == ("closed", t[3], "relieved")


def test_an_escalation_moves_the_alert_to_its_new_rung_whatever_the_order() -> None:
    t0, t1 = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC)
    raised = AlertRow(
        "a",
        "x",
        "s",
        severity="mild",
        owner_role="residence_counselor",
        ack_deadline=t0,
        level=0,
        raised_at=t0,
    )
    climbed = AlertRow(
        "a",
        "x",
        "s",
        severity="mild",
        owner_role="community_psych_teacher",
        ack_deadline=t1,
        level=1,
    )
    for order in ([raised, climbed], [climbed, raised]):
        projection = Projection()
        projection.fold_all([AlertRow(**{f: getattr(r, f) for f in r.columns()}) for r in order])
        [alert] = rows(projection, AlertRow)
        assert (alert.owner_role, alert.ack_deadline, alert.raised_at) == (
            "community_psych_teacher",
            t1,
            t0,
        )


def test_events_stats_does_not_count_are_passed_over() -> None:
    plan = Envelope.wrap(
        PlanUpdated(
            case_id="c",
            student_ref="s",
            plan_version=1,
            actions_open=1,
            actions_done=0,
            updated_at=datetime.now(UTC),
        ),
        source="/shouwang/casework",
        campus_id="x",
        subject="s",
    )
    assert rows_of(plan.to_bytes(), plan.kafka_headers()) == []
    assert rows_of(plan.to_bytes()) == []  # no headers: the type is read from the JSON
    assert rows_of(None) == []  # a tombstone of the compacted directory


def test_a_broken_event_of_a_counted_type_is_poison() -> None:
    envelope = YEAR.events[-1]
    broken = json.loads(envelope.to_bytes())
    del broken["data"]["case_id"]
    with pytest.raises(PoisonEvent, match="case_id"):
        rows_of(json.dumps(broken).encode(), envelope.kafka_headers())
    with pytest.raises(PoisonEvent, match="JSON"):
        rows_of(b"\x00not json")
    with pytest.raises(PoisonEvent, match="empty"):
        rows_of(b"")


def test_every_case_reaches_the_milestones_the_seed_year_says() -> None:
    year: SeedYear = YEAR
    cases = rows(fold(year.events), CaseRow)
    assert sum(c.intervened_at is not None for c in cases) == len(
        year.legs["acknowledged__intervened"]
    )
    assert sum(c.acknowledged_at is not None for c in cases) == 50


def test_each_row_type_names_its_thing_by_the_columns_the_store_keys_it_by() -> None:
    for row_type, columns in ROW_KEYS.items():
        values = {f.name: (1 if f.name == "level" else f.name) for f in fields(row_type)}
        row = row_type(**values)  # type: ignore[arg-type]
        assert row.key() == tuple(values[c] for c in columns), row_type


def test_replay_workers_share_the_partitions_so_no_student_spans_two() -> None:
    ends = {TopicPartition(t, p): 10 for t in ("a", "b") for p in range(6)}
    split = shares(ends, 2)
    assert len(split) == 2
    for share in split:
        assert {tp.partition % 2 for tp in share} == {split.index(share)}
        assert {tp.topic for tp in share} == {"a", "b"}
    uneven = {**ends, TopicPartition("c", 0): 10}
    assert shares(uneven, 2) == [uneven]  # one topic partitioned otherwise: one worker
    assert shares(ends, 1) == [ends]


def _graded(channel: ReportChannel | None) -> Envelope[AssessmentGraded]:
    return Envelope.wrap(
        AssessmentGraded(
            assessment_id=f"a-{channel}",
            student_ref="s",
            severity=Severity.MODERATE,
            previous_severity=Severity.NONE,
            reasons=[],
            policy_version="p",
            trigger="report",
            graded_at=datetime.now(UTC),
            reporter_role=Role.DORM_LEADER,
            report_channel=channel,
        ),
        source="/shouwang/triage",
        campus_id="x",
        subject="s",
    )


def test_a_warning_counts_under_how_it_was_learned_of_when_not_seen_by_the_reporter() -> None:
    # A student who asked their dorm-room leader for help is a self-referral in the figures
    # (主动求助, what a college reports), not one more thing a dorm-room leader noticed; what
    # the leader saw themselves, and every assessment from before channels, stays the tier's.
    def source(channel: ReportChannel | None) -> str:
        envelope = _graded(channel)
        (row,) = rows_of(envelope.to_bytes(), envelope.kafka_headers())
        assert isinstance(row, AssessmentRow)
        return row.source

    assert source(ReportChannel.SELF_REFERRAL) == "self_referral"
    assert source(ReportChannel.FAMILY_CALL) == "family_call"
    assert source(ReportChannel.COUNSELING_SESSION) == "counseling_session"
    assert source(ReportChannel.OBSERVED) == "dorm_leader"
    assert source(None) == "dorm_leader"
    assert label("source", "self_referral") == "学生本人求助"
    assert label("source", "family_call", "en") == "A family member called"
