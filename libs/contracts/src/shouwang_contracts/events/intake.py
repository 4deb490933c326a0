"""Events intake publishes: reports from the six-tier network and screening results."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from ..crypto import EncryptedText
from ..envelope import Payload
from ..instruments import INSTRUMENTS, BehaviorRecency, Instrument
from ..topics import CENSUS, REPORTS, SCREENINGS
from ..vocabulary import ReportChannel, Role, Signal

MAX_NOTE_CHARS = 2000

# Side fields of a screening sheet that a census row may leave blank or unreadable.
UnreadableField = Literal["administered_at", "behavior_recency", "counseling_requested"]


class ReportSubmitted(Payload):
    """A member of the six-tier network reported signals they observed about a student."""

    EVENT_TYPE: ClassVar[str] = "shouwang.report.submitted"
    TOPIC: ClassVar[str] = REPORTS

    report_id: str = Field(description="Id of the report; also the receipt id the reporter holds.")
    student_ref: str = Field(description="Pseudonymous reference of the student reported about.")
    reporter_ref: str = Field(description="Pseudonymous reference of the reporter (corroboration).")
    reporter_role: Role = Field(description="Role of the reporter at the time of the report.")
    signals: list[Signal] = Field(
        min_length=1, description="Observed signals, ids from the versioned vocabulary."
    )
    observed_at: AwareDatetime = Field(description="When the reporter observed the signals.")
    received_at: AwareDatetime = Field(description="When intake accepted the report.")
    location: str | None = Field(
        default=None,
        max_length=200,
        description="Deprecated, never filled by current intake: where it was observed travels "
        "sealed in `location_sealed` (a room number beside a grade identifies a student).",
    )
    note: EncryptedText | None = Field(
        default=None, description="The reporter's free-text note, AES-GCM sealed; never plain text."
    )
    location_sealed: EncryptedText | None = Field(
        default=None,
        description="Where it was observed (e.g. a building and room), AES-GCM sealed like the "
        "note; never plain text.",
    )
    channel: ReportChannel = Field(
        default=ReportChannel.OBSERVED,
        description="How the reporter learned of it: `observed` (seen or heard by the reporter; "
        "every report without this field), `self_referral` (the student asked the reporter for "
        "help), `family_call` (a family member called a staff reporter), `counseling_session` "
        "(found in a counseling session); see `vocabulary.ReportChannel`.",
    )


class ScreeningSubmitted(Payload):
    """One student's answers to a screening instrument, individually or from a census file."""

    EVENT_TYPE: ClassVar[str] = "shouwang.screening.submitted"
    # Individual results travel on the screenings topic; census rows (batch_id set) on the
    # census topic, so a start-of-term upload never queues ahead of one student's result.
    TOPIC: ClassVar[str] = SCREENINGS

    screening_id: str = Field(description="Id of this screening result.")
    student_ref: str = Field(description="Pseudonymous reference of the student screened.")
    submitted_by_ref: str = Field(
        description="Pseudonymous reference of the staff who submitted it."
    )
    instrument: Instrument = Field(description="Which instrument was administered.")
    items: list[int] = Field(
        description="Answers in the instrument's item order; an unanswered item holds the "
        "scale's minimum (see `unanswered_items`)."
    )
    behavior_recency: BehaviorRecency | None = Field(
        default=None,
        description="C-SSRS screener only: when the suicidal behaviour of Q6 last happened.",
    )
    counseling_requested: bool | None = Field(
        default=None, description="UPI only: the student asked for a counseling conversation."
    )
    administered_at: AwareDatetime = Field(description="When the student answered.")
    batch_id: str | None = Field(
        default=None, description="Census batch the result came in, if any."
    )
    batch_row: int | None = Field(default=None, ge=1, description="Row number in the census file.")
    incomplete: bool = Field(
        default=False,
        description="The sheet has unanswered items or unreadable side fields (a census row with "
        "blanks or cells it could not read). It is graded on what it does say; no total may be "
        "computed from a sheet with unanswered items.",
    )
    unanswered_items: list[int] = Field(
        default_factory=list,
        description="1-based positions of items left blank or unreadable; `items` holds the "
        "scale's minimum there, never a guessed answer.",
    )
    unreadable_fields: list[UnreadableField] = Field(
        default_factory=list,
        description="Side fields the row left blank or unreadable, read the riskier way: "
        "`behavior_recency` of a Q6 yes as past_3_months, `administered_at` as the upload "
        "time, `counseling_requested` as not requested (the row report names the cell).",
    )

    @property
    def topic(self) -> str:
        """The topic this result travels on."""
        return CENSUS if self.batch_id else SCREENINGS

    @model_validator(mode="after")
    def _items_fit_instrument(self) -> Self:
        problems = INSTRUMENTS[self.instrument].validate_items(self.items)
        if problems:
            raise ValueError("; ".join(problems))
        if (
            self.instrument is Instrument.CSSRS_SCREENER
            and self.items[5] == 1
            and self.behavior_recency in (None, BehaviorRecency.NEVER)
        ):
            raise ValueError("C-SSRS Q6 answered yes needs behavior_recency")
        spec = INSTRUMENTS[self.instrument]
        unanswered = self.unanswered_items
        if len(set(unanswered)) != len(unanswered) or any(
            not 1 <= i <= spec.item_count for i in unanswered
        ):
            raise ValueError(f"unanswered_items must be distinct positions in 1..{spec.item_count}")
        if any(self.items[i - 1] != spec.min_value for i in unanswered):
            raise ValueError("an unanswered item must hold the scale's minimum")
        if len(unanswered) == spec.item_count:
            raise ValueError("a sheet needs at least one answered item")
        if self.incomplete != bool(unanswered or self.unreadable_fields):
            raise ValueError(
                "incomplete must be true exactly when items are unanswered or fields unreadable"
            )
        return self
