"""A self-referral through the real consumer: graded at least moderate, its assessment says
`report_channel: self_referral`, and the channel stored with the evidence counts for the next
input; a report as intake wrote it before the field grades as it always did, as `observed`."""

from __future__ import annotations

import json

import pytest
from shouwang_contracts.topics import REPORTS
from shouwang_contracts.vocabulary import ReportChannel, Role

from .conftest import TriageFactory
from .helpers import Watcher, of_type, publish, publish_raw, report, unique

pytestmark = pytest.mark.integration

GRADED = "shouwang.assessment.graded"
RAISED = "shouwang.alert.raised"
SELF_REFERRAL_RULE = "help_seeking.self_referral"


async def test_a_self_referral_is_graded_and_said_and_an_older_report_reads_as_observed(
    kafka_bootstrap: str, triage_process: TriageFactory
) -> None:
    await triage_process().start_async()
    asked, older = unique("s"), unique("s")
    signals = ["sleep_disturbance"]  # mild when observed
    self_referral = report(
        "demo",
        asked,
        signals,
        role=Role.RESIDENCE_COUNSELOR,
        channel=ReportChannel.SELF_REFERRAL,
    )
    # The same signals, as intake published a report before `channel` existed.
    before_the_field = report("demo", older, signals)
    body = json.loads(before_the_field.to_bytes())
    del body["data"]["channel"]
    async with Watcher(kafka_bootstrap) as watcher:
        await publish(kafka_bootstrap, self_referral)
        await publish_raw(
            kafka_bootstrap, REPORTS, json.dumps(body).encode(), key=before_the_field.key
        )
        await watcher.wait_for(
            lambda ev: bool(of_type(ev, asked, RAISED)) and bool(of_type(ev, older, RAISED))
        )
        # A later report about the same student is graded on the stored self-referral too:
        # alone with the sleep report it would weigh 2, mild.
        await publish(
            kafka_bootstrap, report("demo", asked, ["social_withdrawal"], reporter_ref="r2")
        )
        await watcher.wait_for(lambda ev: len(of_type(ev, asked, GRADED)) == 2)

    first, later = (e["data"] for e in of_type(watcher.events, asked, GRADED))
    assert first["report_channel"] == "self_referral"
    assert first["severity"] == "moderate"
    [reason] = [r for r in first["reasons"] if r["rule_id"] == SELF_REFERRAL_RULE]
    assert "主动求助" in reason["text_zh"]
    assert "asked for help" in reason["text_en"]
    [alert] = of_type(watcher.events, asked, RAISED)
    assert alert["data"]["severity"] == "moderate"
    assert alert["data"]["owner_role"] == "community_psych_teacher"

    assert later["report_channel"] == "observed"
    assert later["severity"] == "moderate"
    assert SELF_REFERRAL_RULE in [r["rule_id"] for r in later["reasons"]]

    [graded] = (e["data"] for e in of_type(watcher.events, older, GRADED))
    assert graded["report_channel"] == "observed"
    assert graded["severity"] == "mild"
    assert SELF_REFERRAL_RULE not in [r["rule_id"] for r in graded["reasons"]]
