"""A tier report that waited for a census batch about its student is graded with the census's
sheet, and without a retry.

The census lane grades a batch in one transaction and steps aside between time slices for
urgent work about other students (`UrgentFirst`). A report about a student of the batch waits
in PostgreSQL for the census to commit. Its grading must then read the student as the census
left them: the grading policy's rules are lower bounds only ("more evidence or a higher score
can never lower a grade", grading-policy.yaml, header; `domain.grading.grade` takes the highest
level any rule asks for), so a report graded after a census sheet is at least as grave as that
sheet. A report that read the student before the census committed was graded as if the sheet
did not exist (the stored current grade fell below the sheet), or raised an alert beside the
census's new one, which the one-open-alert index refused and the consumer tried again after a
second's back-off. About a student with no open alert the report did not even wait: it raised
its alert first, and the census's was refused, failing the census's whole batch.

Each test holds the census inside its transaction (stepping aside for a report about someone
else), lets the report start and waits until PostgreSQL shows it waiting for a lock (or it is
done), and only then lets the census commit. Real PostgreSQL (the service's migrated database), both lanes'
handlers on one event loop; no sleeps as synchronisation.
"""

from __future__ import annotations

import uuid

import pytest
from shouwang_triage.entrypoints.consumers import UrgentFirst, grade_urgent

from .lanes import (
    ITEM9_FREQUENT,
    LOW_MOOD,
    Lanes,
    census_batch,
    report_input,
)

pytestmark = pytest.mark.integration


async def test_a_report_that_waited_for_the_census_is_not_graded_below_the_census_sheet(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # An alert raised months ago on a report long out of the window is still open (severe:
    # a suicide attempt more than 3 months before, redflag.suicide_attempt). The census's
    # severe sheet therefore raises no new alert: the census commits the grade alone.
    retention_days = lanes.triage.policy.retention.days
    await lanes.grade_old_report(student, ["suicide_attempt"], retention_days + 1)
    old_alert = await lanes.observer.fetchrow(
        "SELECT alert_id, severity FROM alerts WHERE student_ref = $1 AND status = 'open'",
        student,
    )
    assert old_alert is not None
    assert old_alert["severity"] == "severe"

    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)  # moderate alone (signal weights 2 + 1 + 1)
    await lanes.census_then_report(census, report)

    graded = await lanes.assessments(student)
    by_census = [g for g in graded if census[0].evidence_id in g["screening_ids"]]
    assert (by_census[0]["trigger"], by_census[0]["severity"]) == ("screening", "severe")
    # The report came after the sheet: graded on both, it is at least severe, and so is the
    # student's current grade. (Graded on the report alone it was moderate.)
    by_report = graded[-1]
    current = await lanes.observer.fetchval(
        "SELECT severity FROM grades WHERE student_ref = $1", student
    )
    assert (by_report["trigger"], by_report["severity"], current) == ("report", "severe", "severe")
    assert by_report["previous_severity"] == "severe"
    assert report.evidence_id in by_report["report_ids"]
    assert census[0].evidence_id in by_report["screening_ids"]
    # The old alert stays the student's one open alert.
    open_alerts = await lanes.observer.fetch(
        "SELECT alert_id FROM alerts WHERE student_ref = $1 AND status = 'open'", student
    )
    assert [r["alert_id"] for r in open_alerts] == [old_alert["alert_id"]]


async def test_a_report_that_waited_for_the_census_raising_an_alert_is_not_refused_and_retried(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # Last term's report left the student with an open moderate alert.
    await grade_urgent(lanes.triage, UrgentFirst(), [report_input(student, LOW_MOOD)])
    moderate = await lanes.observer.fetchval(
        "SELECT alert_id FROM alerts WHERE student_ref = $1 AND status = 'open'", student
    )
    assert moderate is not None

    # This term's sheet is severe: the census supersedes the moderate alert with a severe one.
    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)
    # One try: a refusal by the one-open-alert index fails the test here (the consumer would
    # have dropped the whole batch's work and tried again after its back-off).
    await lanes.census_then_report(census, report)

    alerts = await lanes.observer.fetch(
        "SELECT alert_id, severity, status, superseded_by FROM alerts WHERE student_ref = $1"
        " ORDER BY raised_at",
        student,
    )
    assert [(a["severity"], a["status"]) for a in alerts] == [
        ("moderate", "superseded"),
        ("severe", "open"),
    ]
    assert alerts[0]["superseded_by"] == alerts[1]["alert_id"]
    by_report = (await lanes.assessments(student))[-1]
    assert report.evidence_id in by_report["report_ids"]
    assert census[0].evidence_id in by_report["screening_ids"]
    assert (by_report["severity"], by_report["previous_severity"]) == ("severe", "severe")


async def test_a_report_about_a_census_student_without_an_alert_waits_and_no_alert_is_refused(
    lanes: Lanes,
) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    # No alert yet: the census's severe sheet raises the student's first alert. A report
    # about them graded meanwhile must not raise one of its own beside it (the census's
    # alert would then be refused by the one-open-alert index, and its whole batch with it).
    census = census_batch(student, ITEM9_FREQUENT)
    report = report_input(student, LOW_MOOD)
    await lanes.census_then_report(census, report)

    alerts = await lanes.observer.fetch(
        "SELECT severity, status FROM alerts WHERE student_ref = $1", student
    )
    assert [(a["severity"], a["status"]) for a in alerts] == [("severe", "open")]
    by_report = (await lanes.assessments(student))[-1]
    assert census[0].evidence_id in by_report["screening_ids"]
    assert (by_report["severity"], by_report["previous_severity"]) == ("severe", "severe")
