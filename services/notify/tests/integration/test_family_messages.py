"""A family told while the on-duty contact has no mobile on file gets the campus's counseling
line to call back, in an SMS signed as the campus registered it with the carriers; both are
the campus admin's to set (`/v1/settings/family-messages`)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_api import api_bearer
from notify_delivery import (
    CAMPUS,
    FAST_RETRY,
    SHANGHAI,
    dispatcher,
    drain,
    load_samples,
    notice,
    open_case,
    place_student,
    staff_file,
)
from notify_receivers import HttpSink, SmtpSink
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.domain.routing import ConsentState
from shouwang_notify.service_layer.alerts import plan_alert
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration
POLICY = NotifyPolicy(retry=FAST_RETRY, zone=SHANGHAI)
SETTINGS = "/v1/settings/family-messages"
GUARDIANS = ("13900000001", "13900000002")


async def test_a_family_gets_the_counseling_line_when_the_on_duty_contact_has_no_mobile(
    notify_api: httpx.AsyncClient,
    notify_pool: asyncpg.Pool,
    cipher: NoteCipher,
    pseudonyms: Pseudonymizer,
    smtp_sink: SmtpSink,
    http_sink: HttpSink,
    http_client: httpx.AsyncClient,
) -> None:
    admin = api_bearer(Role.CAMPUS_ADMIN, CAMPUS)
    unset = await notify_api.get(SETTINGS, headers=admin)
    assert unset.json() == {"counseling_line": None, "sms_signature": None}
    wanted = {"counseling_line": "0571-88981234", "sms_signature": "浙江某大学"}
    put = await notify_api.put(SETTINGS, json=wanted, headers=admin)
    assert put.status_code == 200, put.text
    assert (await notify_api.get(SETTINGS, headers=admin)).json() == wanted

    # The on-duty row has an e-mail address and no mobile.
    staff = staff_file(
        (
            "值班,主校区值班室,13800000999,duty@example.com,,,短信",
            "值班,主校区值班室,,duty@example.com,,,邮件",
        )
    )
    await load_samples(notify_pool, cipher, pseudonyms, staff=staff)
    student_ref = await place_student(notify_pool, pseudonyms)
    await open_case(notify_pool, student_ref, Severity.SEVERE, ConsentState.GIVEN)
    async with worker_transaction(notify_pool) as conn:
        await plan_alert(
            conn, cipher, POLICY, notice(pseudonyms, Severity.SEVERE), datetime.now(UTC)
        )
    await drain(dispatcher(notify_pool, cipher, smtp_sink, http_sink, http_client, POLICY))

    family = [r.body["text"] for r in http_sink.at("/sms") if r.body["to"] in GUARDIANS]
    assert len(family) == 2
    for text in family:
        assert text.startswith("【浙江某大学】家长您好"), text
        assert text.endswith("或致电0571-88981234。"), text


async def test_family_message_settings_are_the_campus_admins_alone(
    notify_api: httpx.AsyncClient,
) -> None:
    for role in (Role.COUNSELING_CENTER, Role.AUDITOR):
        answer = await notify_api.put(
            SETTINGS, json={"sms_signature": "某大学"}, headers=api_bearer(role, CAMPUS)
        )
        assert answer.status_code == 403, (role, answer.text)
        assert (await notify_api.get(SETTINGS, headers=api_bearer(role, CAMPUS))).status_code == 403
    # Another campus's admin sees and sets their own campus's only.
    admin = api_bearer(Role.CAMPUS_ADMIN, CAMPUS)
    other = api_bearer(Role.CAMPUS_ADMIN, "other")
    await notify_api.put(SETTINGS, json={"sms_signature": "某大学"}, headers=other)
    assert (await notify_api.get(SETTINGS, headers=admin)).json()["sms_signature"] is None


async def test_a_signature_that_would_open_a_second_sender_name_is_refused(
    notify_api: httpx.AsyncClient,
) -> None:
    admin = {**api_bearer(Role.CAMPUS_ADMIN, CAMPUS), "Accept-Language": "en"}
    refused = await notify_api.put(
        SETTINGS,
        json={"counseling_line": "转 8123", "sms_signature": "守望】【市公安局"},
        headers=admin,
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "family_messages_invalid"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("counseling_line", "invalid_phone"),
        ("sms_signature", "signature_brackets"),
    }
    assert (await notify_api.get(SETTINGS, headers=admin)).json()["sms_signature"] is None
