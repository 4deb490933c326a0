"""The contracts every service relies on: envelope, pseudonyms, sealed notes, schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from shouwang_contracts.auth import (
    AuthError,
    Placement,
    ScopeGrant,
    TokenVerifier,
    mint_token,
    principal_from_claims,
)
from shouwang_contracts.crypto import NoteCipher, NoteKeyError, generate_key
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import EVENT_TYPES, ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.kafka import PoisonEvent, decode_event
from shouwang_contracts.pseudonym import Pseudonymizer, is_student_ref
from shouwang_contracts.schemas import stale_files
from shouwang_contracts.topics import (
    CENSUS,
    PROCESSED_EVENT_MEMORY,
    REPORTS,
    RETIRED_TOPICS,
    SCREENINGS,
    all_topics,
)
from shouwang_contracts.vocabulary import (
    SIGNAL_LABELS,
    ExternalParty,
    FollowUp,
    ReportChannel,
    Role,
    Severity,
    Signal,
    Tier,
    language_named,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
KEY = b"k" * 32
SECRET = "s" * 40


def _report(student_ref: str, **changes: object) -> ReportSubmitted:
    fields: dict[str, object] = {
        "report_id": "r-1",
        "student_ref": student_ref,
        "reporter_ref": "per_x",
        "reporter_role": Role.DORM_LEADER,
        "signals": [Signal.HOPELESSNESS],
        "observed_at": datetime(2026, 9, 10, 1, tzinfo=UTC),
        "received_at": datetime(2026, 9, 10, 2, tzinfo=UTC),
    }
    fields.update(changes)
    return ReportSubmitted.model_validate(fields)


def test_student_ref_is_stable_keyed_and_hides_the_number() -> None:
    one = Pseudonymizer(KEY)
    ref = one.student_ref("demo", "2024020001")
    assert ref == one.student_ref("demo", "２０２４０２０００１")  # full-width digits normalised
    assert ref != one.student_ref("other", "2024020001")
    assert ref != Pseudonymizer(b"q" * 32).student_ref("demo", "2024020001")
    assert "2024020001" not in ref
    assert is_student_ref(ref)
    with pytest.raises(ValueError, match="at least 32"):
        Pseudonymizer(b"short")


def test_sealed_note_opens_only_for_its_student_and_key() -> None:
    cipher = NoteCipher.from_config(f"k2:{generate_key()},k1:{generate_key()}")
    sealed = cipher.seal("他说不想活了", campus_id="demo", student_ref="stu_a")
    assert sealed.key_id == "k2"
    assert "不想活" not in sealed.model_dump_json()
    assert cipher.open(sealed, campus_id="demo", student_ref="stu_a") == "他说不想活了"
    with pytest.raises(NoteKeyError):
        cipher.open(sealed, campus_id="demo", student_ref="stu_b")
    with pytest.raises(NoteKeyError):
        NoteCipher.from_config(f"k9:{generate_key()}").open(
            sealed, campus_id="demo", student_ref="stu_a"
        )


def test_envelope_round_trips_with_type_key_and_topic() -> None:
    ref = Pseudonymizer(KEY).student_ref("demo", "2024020001")
    envelope = Envelope.wrap(_report(ref), source="/shouwang/intake", campus_id="demo", subject=ref)
    assert envelope.type == "shouwang.report.submitted"
    assert envelope.key == f"demo:{ref}".encode()
    assert envelope.topic == REPORTS
    assert envelope.headers()["ce_id"] == envelope.id
    again = decode_event(envelope.to_bytes(), ReportSubmitted)
    assert again == envelope


def test_kafka_headers_name_the_event_in_the_cloudevents_kafka_binding() -> None:
    ref = Pseudonymizer(KEY).student_ref("demo", "2024020001")
    traced = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    for source, traceparent in (("/shouwang/intake", None), ("/shouwang/triage", traced)):
        for _ in range(2):  # the second time from the cache of constant headers
            envelope = Envelope.wrap(
                _report(ref),
                source=source,
                campus_id="demo",
                subject=ref,
                traceparent=traceparent,
            )
            expected = [
                ("ce_id", envelope.id.encode()),
                ("ce_type", b"shouwang.report.submitted"),
                ("ce_source", source.encode()),
                ("ce_specversion", b"1.0"),
                ("ce_schema_version", ReportSubmitted.SCHEMA_VERSION.encode()),
                ("content-type", b"application/cloudevents+json"),
            ] + ([("traceparent", traced.encode())] if traceparent else [])
            assert envelope.kafka_headers() == expected
            assert envelope.headers() == {name: value.decode() for name, value in expected}


def test_decoding_garbage_is_a_poison_event_with_a_reason() -> None:
    with pytest.raises(PoisonEvent, match=r"shouwang\.report\.submitted"):
        decode_event(b'{"id": 1}', ReportSubmitted)
    with pytest.raises(PoisonEvent):
        decode_event(b"\xff not json", ReportSubmitted)


def test_envelope_refuses_a_type_that_does_not_match_its_payload() -> None:
    ref = "stu_" + "a" * 32
    raw = Envelope.wrap(_report(ref), source="/x", campus_id="demo", subject=ref).model_dump(
        mode="json"
    )
    raw["type"] = "shouwang.case.opened"
    with pytest.raises(ValidationError, match="does not match"):
        Envelope[ReportSubmitted].model_validate(raw)


def test_screening_items_are_validated_per_instrument() -> None:
    base = {
        "screening_id": "s1",
        "student_ref": "stu_x",
        "submitted_by_ref": "per_y",
        "administered_at": datetime(2026, 9, 10, tzinfo=UTC),
    }
    ok = ScreeningSubmitted.model_validate({**base, "instrument": "phq9", "items": [0] * 9})
    assert ok.topic == SCREENINGS
    census = ok.model_copy(update={"batch_id": "b1"})
    assert census.topic == CENSUS
    with pytest.raises(ValidationError, match="needs 9 items"):
        ScreeningSubmitted.model_validate({**base, "instrument": "phq9", "items": [0] * 8})
    with pytest.raises(ValidationError, match=r"outside 1\.\.5"):
        ScreeningSubmitted.model_validate({**base, "instrument": "scl90", "items": [0] * 90})
    with pytest.raises(ValidationError, match="recency"):
        ScreeningSubmitted.model_validate(
            {**base, "instrument": "cssrs_screener", "items": [0, 0, 0, 0, 0, 1]}
        )


def test_an_incomplete_sheet_says_which_items_are_blank_and_never_guesses_them() -> None:
    base = {
        "screening_id": "s1",
        "student_ref": "stu_x",
        "submitted_by_ref": "per_y",
        "administered_at": datetime(2026, 9, 10, tzinfo=UTC),
        "instrument": "phq9",
    }
    partial = ScreeningSubmitted.model_validate(
        {**base, "items": [1, 1, 0, 1, 1, 1, 1, 1, 3], "unanswered_items": [3], "incomplete": True}
    )
    assert partial.incomplete
    with pytest.raises(ValidationError, match="incomplete must be true"):
        ScreeningSubmitted.model_validate({**base, "items": [0] * 9, "unanswered_items": [3]})
    with pytest.raises(ValidationError, match="incomplete must be true"):
        ScreeningSubmitted.model_validate({**base, "items": [0] * 9, "incomplete": True})
    with pytest.raises(ValidationError, match="scale's minimum"):
        ScreeningSubmitted.model_validate(
            {**base, "items": [0, 0, 2] + [0] * 6, "unanswered_items": [3], "incomplete": True}
        )
    with pytest.raises(ValidationError, match="distinct positions"):
        ScreeningSubmitted.model_validate(
            {**base, "items": [0] * 9, "unanswered_items": [10], "incomplete": True}
        )
    with pytest.raises(ValidationError, match="at least one answered"):
        ScreeningSubmitted.model_validate(
            {**base, "items": [0] * 9, "unanswered_items": list(range(1, 10)), "incomplete": True}
        )
    recency = ScreeningSubmitted.model_validate(
        {
            **base,
            "instrument": "cssrs_screener",
            "items": [0, 0, 0, 0, 1, 1],
            "behavior_recency": "past_3_months",
            "unreadable_fields": ["behavior_recency"],
            "incomplete": True,
        }
    )
    assert recency.unreadable_fields == ["behavior_recency"]


def test_follow_ups_and_external_parties_have_both_labels() -> None:
    assert all(f.label() and f.label("en") for f in FollowUp)
    assert all(e.label() and e.label("en") for e in ExternalParty)
    assert "110" in ExternalParty.EMERGENCY_SERVICES.label()


def test_vocabulary_is_complete_and_ordered() -> None:
    assert set(SIGNAL_LABELS) == set(Signal)
    assert all(zh and en for zh, en in SIGNAL_LABELS.values())
    assert Severity.MILD < Severity.MODERATE < Severity.SEVERE < Severity.CRITICAL
    assert max([Severity.SEVERE, Severity.CRITICAL, Severity.NONE]) is Severity.CRITICAL
    assert Tier.RESIDENCE_COUNSELOR.role is Role.RESIDENCE_COUNSELOR
    assert Role.CLASS_WELLBEING_OFFICER.is_student
    assert not Role.RESIDENCE_COUNSELOR.is_student
    assert Role.AUDITOR.tier is None
    assert Role.COUNSELING_CENTER.label() == "心理健康教育与咨询中心"
    assert Role.COUNSELING_CENTER.label("en") == "Counseling center"


def test_report_channels_say_who_can_have_learned_of_it_that_way() -> None:
    assert all(c.label() and c.label("en") for c in ReportChannel)
    assert ReportChannel.SELF_REFERRAL.label() == "学生本人求助"
    # Anyone may see signs or be asked for help; a family calls staff, not a fellow student;
    # only those who hold counseling sessions learn of it in one.
    for role in (Role.DORM_LEADER, Role.COUNSELING_CENTER):
        assert ReportChannel.OBSERVED.reportable_by(role)
        assert ReportChannel.SELF_REFERRAL.reportable_by(role)
    assert not ReportChannel.FAMILY_CALL.reportable_by(Role.CLASS_WELLBEING_OFFICER)
    assert ReportChannel.FAMILY_CALL.reportable_by(Role.RESIDENCE_COUNSELOR)
    assert not ReportChannel.COUNSELING_SESSION.reportable_by(Role.RESIDENCE_COUNSELOR)
    assert ReportChannel.COUNSELING_SESSION.reportable_by(Role.COUNSELING_CENTER)


def test_a_tools_language_is_read_the_same_way_by_every_tool() -> None:
    # The devstack's commands and the gateway's accounts CLI read SHOUWANG_LANG through it.
    assert language_named("") == "zh-CN"
    assert language_named(" EN ") == "en"
    assert language_named("zh-cn") == "zh-CN"
    assert language_named("fr") is None


def test_a_report_from_before_channels_reads_as_observed() -> None:
    fields = {
        "report_id": "r1",
        "student_ref": "s1",
        "reporter_ref": "p1",
        "reporter_role": "dorm_leader",
        "signals": ["hopelessness"],
        "observed_at": "2026-03-01T08:00:00+08:00",
        "received_at": "2026-03-01T08:01:00+08:00",
    }
    assert ReportSubmitted.model_validate(fields).channel is ReportChannel.OBSERVED
    with pytest.raises(ValidationError):
        ReportSubmitted.model_validate({**fields, "channel": "rumour"})


def test_escalating_to_an_owner_off_the_ladder_never_lowers_who_may_acknowledge() -> None:
    # Tiered owners: their own tier. The college leader, the rung past the counseling
    # center: still the center, not "anyone of tier 4+".
    for tier in (Tier.RESIDENCE_COUNSELOR, Tier.COMMUNITY_PSYCH_TEACHER, Tier.COUNSELING_CENTER):
        assert tier.role.acknowledged_from is tier
    assert Role.COLLEGE_LEADER.acknowledged_from is Tier.COUNSELING_CENTER


def test_every_topic_has_a_dead_letter_twin() -> None:
    names = {t.name for t in all_topics()}
    for name in (REPORTS, SCREENINGS, CENSUS):
        assert name + ".dlq" in names


def test_processed_event_ids_are_remembered_longer_than_any_topic_keeps_records() -> None:
    for topic in all_topics():
        if "retention.ms" in topic.configs:
            kept = timedelta(milliseconds=int(topic.configs["retention.ms"]))
            assert kept < PROCESSED_EVENT_MEMORY, topic.name


def test_tokens_verify_and_carry_scope() -> None:
    token = mint_token(
        SECRET,
        sub="T1001",
        role=Role.RESIDENCE_COUNSELOR,
        campus_id="demo",
        scope=["building:8号楼"],
    )
    principal = TokenVerifier(secret=SECRET).verify(token)
    assert principal.role is Role.RESIDENCE_COUNSELOR
    assert principal.covers(Placement(building="8号楼", room="202"))
    assert not principal.covers(Placement(building="7号楼"))
    assert str(ScopeGrant.parse("floor:7号楼/3")) == "floor:7号楼/3"
    with pytest.raises(AuthError):
        TokenVerifier(secret="x" * 40).verify(token)
    expired = mint_token(SECRET, sub="a", role=Role.DORM_LEADER, campus_id="demo", ttl_seconds=-120)
    with pytest.raises(AuthError, match="expired"):
        TokenVerifier(secret=SECRET).verify(expired)


def test_exported_schemas_are_up_to_date() -> None:
    assert stale_files(SCHEMAS) == [], "run `make schemas` and commit libs/contracts/schemas"
    assert len(list(SCHEMAS.glob("*.json"))) == len(EVENT_TYPES)


def test_the_asyncapi_document_names_every_event_on_its_topic() -> None:
    import yaml

    document = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text(encoding="utf-8"))
    channels = document["channels"]
    for event_type, payload_cls in EVENT_TYPES.items():
        if payload_cls.TOPIC in RETIRED_TOPICS:  # its schema stays; its channel is gone
            assert f"{payload_cls.TOPIC}.{event_type}" not in channels
            continue
        assert f"{payload_cls.TOPIC}.{event_type}" in channels
    assert f"{CENSUS}.shouwang.screening.submitted" in channels
    # Public case events never carry names, numbers, notes or contact details.
    opened = document["components"]["schemas"]["CaseOpened"]["properties"]
    assert not {"name", "student_no", "note", "phone"} & set(opened)


def test_the_directory_stream_never_names_a_students_class_building_or_room() -> None:
    # A compacted topic keeps its latest record per student for ever: a room beside a grade
    # names the student. Routing gets the college and keyed hashes, never the placement.
    from shouwang_contracts.events.casework import StudentRouting
    from shouwang_contracts.topics import DIRECTORY, DIRECTORY_V1, RETIRED_TOPICS

    assert DIRECTORY != DIRECTORY_V1
    assert DIRECTORY_V1 in RETIRED_TOPICS
    assert StudentRouting.TOPIC == DIRECTORY
    fields = set(StudentRouting.model_json_schema()["properties"])
    assert fields == {
        "student_ref",
        "active",
        "college",
        "placement_refs",
        "responsible",
        "updated_at",
    }
    assert not fields & {"class_name", "building", "floor", "room", "name", "student_no"}


@pytest.mark.parametrize(
    ("role", "own"),
    [
        (Role.DORM_LEADER, "room:8号楼/202"),
        (Role.FLOOR_LEADER, "room:8号楼/202"),
        (Role.CLASS_WELLBEING_OFFICER, "class:建工2401"),
    ],
)
def test_a_student_token_granting_the_campus_is_not_campus_wide(role: Role, own: str) -> None:
    """An identity provider mapping a dorm-room leader to `campus` must not open every
    student's name and room to them: the grant is dropped, their own room (or class) still
    covers (which grants each role may hold: `test_role_grants.py`)."""
    principal = principal_from_claims(
        {"sub": "2024020001", "role": role.value, "campus_id": "demo", "scope": ["campus", own]}
    )
    assert not principal.campus_wide
    assert [str(g) for g in principal.scope] == [own]
    assert not principal.covers(Placement(building="9号楼", room="101", class_name="建工2402"))
    assert principal.covers(Placement(building="8号楼", room="202", class_name="建工2401"))
    teacher = principal_from_claims(
        {"sub": "T1", "role": "community_psych_teacher", "campus_id": "demo", "scope": ["campus"]}
    )
    assert teacher.campus_wide
