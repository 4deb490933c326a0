"""What a plan shows as due (策: review dates and action due dates), as of a given time.

Graded example: review dates on 1 and 15 March, the plan last revised on 20 February. On
5 March the 1 March review is due (no revision since); once the plan is revised on 6 March,
nothing is due and 15 March is next; on 16 March the 15 March review is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shouwang_casework.domain.plan import ActionKind, ActionStatus, Plan, PlanAction

FEB20 = datetime(2027, 2, 20, 9, tzinfo=UTC)
MAR1 = datetime(2027, 3, 1, 9, tzinfo=UTC)
MAR15 = datetime(2027, 3, 15, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def action(action_id: str, status: ActionStatus, due_at: datetime | None) -> PlanAction:
    return PlanAction(action_id, ActionKind.TALK, "per_c", due_at, status)


def test_a_review_date_passed_with_no_revision_since_is_due_until_the_plan_is_revised() -> None:
    plan = Plan("c1").revise([], [MAR15, MAR1], at=FEB20)

    assert plan.reviews_due(FEB20 + DAY) == []
    assert plan.reviews_due(MAR1) == [MAR1]  # due on the day itself
    assert plan.reviews_due(MAR1 + 4 * DAY) == [MAR1]
    assert plan.next_review(MAR1 + 4 * DAY) == MAR15

    revised = plan.revise(plan.actions, plan.review_dates, at=MAR1 + 5 * DAY)

    assert revised.reviews_due(MAR1 + 5 * DAY) == []
    assert revised.reviews_due(MAR15 + DAY) == [MAR15]
    assert revised.next_review(MAR15 + DAY) is None


def test_a_plan_never_stored_has_every_passed_review_due() -> None:
    assert Plan("c1", review_dates=[MAR1, MAR15]).reviews_due(MAR15) == [MAR1, MAR15]


def test_only_open_or_in_progress_actions_past_their_due_date_are_overdue() -> None:
    now = MAR1
    plan = Plan("c1").revise(
        [
            action("open_late", ActionStatus.OPEN, now - DAY),
            action("working_late", ActionStatus.IN_PROGRESS, now - timedelta(minutes=1)),
            action("open_in_time", ActionStatus.OPEN, now + DAY),
            action("done_late", ActionStatus.DONE, now - DAY),
            action("dropped_late", ActionStatus.DROPPED, now - DAY),
            action("no_date", ActionStatus.OPEN, None),
        ],
        [],
        at=FEB20,
    )

    assert plan.actions_overdue(now) == 2
    assert plan.actions_overdue(now + 2 * DAY) == 3
