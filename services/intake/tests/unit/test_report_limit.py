"""Which answers give a report back to its reporter's allowance (`IntakeSettings.report_limit`);
the edge's giving back itself is the kit's (libs/servicekit/tests/test_person_limits.py)."""

from __future__ import annotations

from shouwang_intake.config import IntakeSettings


def test_a_report_intake_could_not_take_does_not_spend_the_reporters_allowance() -> None:
    """A floor leader reporting a crisis during a Kafka outage is answered 503 and the app
    sends again after Retry-After: each try spent the allowance, and when the outage ended
    the leader was refused for an hour. Refused content (400, 422) is given back too; what
    intake took (202) or refused for who asked (403, 409) or how much (413, 429) is not."""
    given = IntakeSettings().report_limit().given_back
    assert {400, 422, 503} <= given
    assert not given & {202, 403, 409, 413, 415, 429}
