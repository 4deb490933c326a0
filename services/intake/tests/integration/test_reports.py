"""Reports over HTTP end up on Kafka, sealed, once, and only with an acknowledgement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import ReportSubmitted
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import REPORTS
from shouwang_contracts.vocabulary import Role

from .kafka_reader import TopicReader

NOTE = "他这几天一直说活着没意思，把吉他送给了室友"


def _report(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "campus_id": "demo",
        "student_no": "2024020001",
        "signals": ["hopelessness", "giving_away_possessions"],
        "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "note": NOTE,
        "location": "8号楼202",
    }
    body.update(changes)
    return body


async def test_a_report_is_on_its_topic_with_its_note_and_location_never_in_the_clear(
    client: httpx.AsyncClient, token, kafka_bootstrap: str, devstack_env: dict[str, str]
) -> None:
    async with TopicReader(kafka_bootstrap, REPORTS) as reader:
        response = await client.post(
            "/v1/reports", json=_report(), headers=token(Role.DORM_LEADER, sub="2024020009")
        )
        assert response.status_code == 202, response.text
        report_id = response.json()["id"]
        assert response.headers["location"] == f"/v1/reports/{report_id}"
        records = await reader.read(1)

    assert len(records) == 1
    record = records[0]
    assert NOTE.encode() not in record.value
    assert b"2024020001" not in record.value  # no student number on the wire
    envelope = Envelope[ReportSubmitted].model_validate_json(record.value)
    pseudonyms = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode())
    student_ref = pseudonyms.student_ref("demo", "2024020001")
    assert envelope.id == report_id
    assert envelope.type == "shouwang.report.submitted"
    assert envelope.source == "/shouwang/intake"
    assert envelope.campus_id == "demo"
    assert envelope.subject == student_ref
    assert record.key == f"demo:{student_ref}".encode()
    assert dict(record.headers)["ce_id"] == report_id.encode()
    data = envelope.data
    assert [s.value for s in data.signals] == ["hopelessness", "giving_away_possessions"]
    assert data.reporter_role is Role.DORM_LEADER
    assert data.reporter_ref == pseudonyms.person_ref("demo", "2024020009")
    assert data.note is not None
    cipher = NoteCipher.from_config(devstack_env["SHOUWANG_NOTE_KEYS"])
    assert cipher.open(data.note, campus_id="demo", student_ref=student_ref) == NOTE
    # Where it happened travels sealed like the note: a room beside a grade names a student.
    assert data.location is None
    assert "8号楼202".encode() not in record.value
    assert data.location_sealed is not None
    sealed = data.location_sealed
    assert cipher.open(sealed, campus_id="demo", student_ref=student_ref) == "8号楼202"

    receipt = await client.get(
        f"/v1/reports/{report_id}", headers=token(Role.DORM_LEADER, sub="2024020009")
    )
    assert receipt.status_code == 200
    assert receipt.json()["status"] == "received"
    assert receipt.json()["status_label"] == "已收到，等待处理"
    assert set(receipt.json()) == {
        "id",
        "kind",
        "status",
        "status_label",
        "received_at",
        "updated_at",
    }
    # Someone else asking for that receipt learns nothing, not even that it exists.
    other = await client.get(
        f"/v1/reports/{report_id}", headers=token(Role.DORM_LEADER, sub="2024020010")
    )
    assert other.status_code == 404


async def test_a_callers_trace_reaches_the_event_and_a_malformed_one_is_replaced(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    # 32 characters but not W3C's lowercase hex: before 2026-11-30 these answered 500, as the
    # event's schema refused the trace id they carried.
    malformed = [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    ]
    async with TopicReader(kafka_bootstrap, REPORTS) as reader:
        answers = [
            await client.post(
                "/v1/reports",
                json=_report(),
                headers={**token(Role.DORM_LEADER), "traceparent": traceparent},
            )
            for traceparent in [valid, *malformed]
        ]
        assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
        records = await reader.read(4)
    by_id = {Envelope[ReportSubmitted].model_validate_json(r.value).id: r for r in records}
    events = [
        Envelope[ReportSubmitted].model_validate_json(by_id[a.json()["id"]].value) for a in answers
    ]
    trace_ids = [e.traceparent.split("-")[1] for e in events if e.traceparent]
    assert len(trace_ids) == 4
    assert trace_ids[0] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert answers[0].headers["traceparent"].split("-")[1] == trace_ids[0]
    # Each malformed header started a trace of its own, echoed to the caller.
    assert len(set(trace_ids[1:])) == 3
    for answer, trace_id in zip(answers[1:], trace_ids[1:], strict=True):
        assert answer.headers["traceparent"].split("-")[1] == trace_id
        assert trace_id not in {t.split("-")[1].lower() for t in malformed}


async def test_the_same_idempotency_key_twice_yields_one_event(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    headers = {
        **token(Role.FLOOR_LEADER, sub="2024030002"),
        "Idempotency-Key": f"key-{uuid.uuid4()}",
    }
    body = _report(signals=["persistent_low_mood"], note=None)
    async with TopicReader(kafka_bootstrap, REPORTS) as reader:
        first = await client.post("/v1/reports", json=body, headers=headers)
        second = await client.post("/v1/reports", json=body, headers=headers)
        records = await reader.read(1, settle=2.0)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert len(records) == 1

    changed = await client.post(
        "/v1/reports", json={**body, "signals": ["sleep_disturbance"]}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert changed.json()["code"] == "idempotency_key_reused"
    # How the reporter learned of it is part of the report: another channel is another body.
    rechanneled = await client.post(
        "/v1/reports", json={**body, "channel": "self_referral"}, headers=headers
    )
    assert rechanneled.status_code == 409
    assert rechanneled.json()["code"] == "idempotency_key_reused"
    # Saying `observed` is saying what the first body left unsaid: the same report, replayed.
    said = await client.post("/v1/reports", json={**body, "channel": "observed"}, headers=headers)
    assert said.status_code == 202, said.text
    assert said.json() == first.json()
    assert said.headers.get("idempotent-replayed") == "true"


async def test_bad_input_gets_specific_problems_never_a_500(
    client: httpx.AsyncClient, token
) -> None:
    headers = token(Role.DORM_LEADER)
    cases = [
        (_report(signals=["bogus"]), 422, "signals"),
        (_report(student_no=""), 422, "student_no"),
        (_report(note="x" * 2001), 422, "note"),
        (
            _report(observed_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()),
            422,
            "observed_at",
        ),
        # A number would be read as a Unix timestamp; the API takes ISO 8601 text only.
        (_report(observed_at=1_764_400_000), 422, "observed_at"),
        (_report(observed_at="1764400000"), 422, "observed_at"),
        (_report(channel="rumour"), 422, "channel"),
    ]
    for body, status, field in cases:
        response = await client.post("/v1/reports", json=body, headers=headers)
        assert response.status_code == status, (field, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in problem["errors"]), problem

    malformed = await client.post(
        "/v1/reports", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    wrong_type = await client.post(
        "/v1/reports",
        content=b"a=b",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert wrong_type.status_code == 415
    too_big = await client.post(
        "/v1/reports",
        content=b"{" + b" " * 70_000 + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    english = await client.post(
        "/v1/reports", json=_report(signals=[]), headers={**headers, "Accept-Language": "en"}
    )
    assert english.json()["title"] == "Validation failed"
    chinese = await client.post("/v1/reports", json=_report(signals=[]), headers=headers)
    assert chinese.json()["title"] == "请求内容未通过校验"


async def test_health_and_metrics_are_open_everything_else_needs_a_token(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"kafka": True, "database": True}
    metrics = await client.get("/metrics")
    assert "intake_http_requests_total" in metrics.text
    assert "intake_events_published_total" in metrics.text
    unauthenticated = await client.post("/v1/reports", json=_report())
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    forged = await client.post(
        "/v1/reports", json=_report(), headers={"Authorization": "Bearer abc.def.ghi"}
    )
    assert forged.status_code == 401


async def test_a_reporter_lists_only_their_own_receipts_newest_first(
    client: httpx.AsyncClient, token
) -> None:
    mine = token(Role.DORM_LEADER, sub=f"r-{uuid.uuid4().hex[:8]}")
    other = token(Role.DORM_LEADER, sub=f"r-{uuid.uuid4().hex[:8]}")
    ids = []
    for _ in range(2):
        accepted = await client.post("/v1/reports", json=_report(note=None), headers=mine)
        assert accepted.status_code == 202
        ids.append(accepted.json()["report_id"])
    await client.post("/v1/reports", json=_report(note=None), headers=other)

    listed = await client.get("/v1/reports", headers={**mine, "Accept-Language": "en"})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [r["id"] for r in items] == ids[::-1]
    assert {r["status_label"] for r in items} <= {"Received", "Being handled", "Closed"}
    assert set(items[0]) == {"id", "kind", "status", "status_label", "received_at", "updated_at"}
    assert (await client.get("/v1/reports")).status_code == 401


async def test_a_report_says_how_its_reporter_learned_of_it_and_without_it_was_observed(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    dorm = token(Role.DORM_LEADER, sub=f"r-{uuid.uuid4().hex[:8]}")
    async with TopicReader(kafka_bootstrap, REPORTS) as reader:
        asked = await client.post(
            "/v1/reports", json=_report(note=None, channel="self_referral"), headers=dorm
        )
        unsaid = await client.post("/v1/reports", json=_report(note=None), headers=dorm)
        # A student writing about themself (their token's sub is their 学号) asks for help,
        # whatever channel the body named.
        own_no = f"2024{uuid.uuid4().int % 10**6:06d}"
        themself = await client.post(
            "/v1/reports",
            json=_report(note=None, student_no=own_no, channel="observed"),
            headers=token(Role.FLOOR_LEADER, sub=own_no),
        )
        answers = (asked.status_code, unsaid.status_code, themself.status_code)
        assert answers == (202, 202, 202), (asked.text, unsaid.text, themself.text)
        records = await reader.read(3)
    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    assert set(by_id) == {asked.json()["id"], unsaid.json()["id"], themself.json()["id"]}
    own = TopicReader.value(by_id[themself.json()["id"]])["data"]
    assert (own["channel"], own["reporter_role"]) == ("self_referral", "floor_leader")
    self_referral = TopicReader.value(by_id[asked.json()["id"]])["data"]
    observed = TopicReader.value(by_id[unsaid.json()["id"]])["data"]
    assert (self_referral["channel"], self_referral["reporter_role"]) == (
        "self_referral",
        "dorm_leader",
    )
    assert observed["channel"] == "observed"  # said on the wire, not left to a default


async def test_a_channel_the_reporters_role_cannot_have_learned_by_is_refused_unpublished(
    client: httpx.AsyncClient, token, kafka_bootstrap: str
) -> None:
    """A dorm-room leader is not who a family calls; a residence counselor holds no
    counseling sessions. Each is told so in zh-CN (English when preferred), naming the field,
    and nothing reaches Kafka: the report published after them is the only record."""
    dorm = token(Role.DORM_LEADER, sub=f"r-{uuid.uuid4().hex[:8]}")
    counselor = token(Role.RESIDENCE_COUNSELOR, sub=f"r-{uuid.uuid4().hex[:8]}")
    wrong = [(dorm, "family_call", "寝室长"), (counselor, "counseling_session", "公寓辅导员")]
    async with TopicReader(kafka_bootstrap, REPORTS) as reader:
        for headers, channel, role_zh in wrong:
            body = _report(note=None, channel=channel)
            zh = await client.post("/v1/reports", json=body, headers=headers)
            en = await client.post(
                "/v1/reports", json=body, headers={**headers, "Accept-Language": "en"}
            )
            for answer in (zh, en):
                assert answer.status_code == 422, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["code"] == "channel_not_for_role"
                assert [e["field"] for e in answer.json()["errors"]] == ["channel"]
            assert zh.json()["detail"].startswith(role_zh), zh.json()
            assert not zh.json()["errors"][0]["message"].isascii()
            assert en.json()["detail"].isascii(), en.json()
            assert channel in en.json()["detail"]
        # What a counselor did learn from a family call goes through.
        after = await client.post(
            "/v1/reports", json=_report(note=None, channel="family_call"), headers=counselor
        )
        assert after.status_code == 202, after.text
        records = await reader.read(1)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [after.json()["id"]]
