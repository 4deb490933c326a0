"""The directory stream casework publishes: who answers for a student at each tier, and
the placement grouping needs, by pseudonym and keyed hash only."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ...envelope import Payload
from ...topics import DIRECTORY, DIRECTORY_V1
from ...vocabulary import Role


class ResponsibleStaff(BaseModel):
    """One person responsible for a student at some tier, by pseudonym only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role = Field(description="Their role / tier for this student.")
    person_ref: str = Field(description="Pseudonymous reference of the person.")


class DirectoryEntry(Payload):
    """Retired (kept so old records still decode): a student's placement in the clear and
    responsible staff, on the retired `shouwang.directory.v1`. Superseded by
    `StudentRouting` on `shouwang.directory.v2`."""

    EVENT_TYPE: ClassVar[str] = "shouwang.directory.entry"
    TOPIC: ClassVar[str] = DIRECTORY_V1

    student_ref: str = Field(description="Pseudonymous reference of the student.")
    active: bool = Field(default=True, description="False once the student has left.")
    college: str | None = Field(default=None, description="二级学院.")
    class_name: str | None = Field(default=None, description="班级.")
    building: str | None = Field(default=None, description="楼栋.")
    floor: str | None = Field(default=None, description="楼层.")
    room: str | None = Field(default=None, description="寝室.")
    responsible: list[ResponsibleStaff] = Field(
        default_factory=list, description="Who holds each tier for this student."
    )
    updated_at: AwareDatetime = Field(description="When the placement was last imported.")


class StudentRouting(Payload):
    """Who answers for a student at each tier, and what grouping needs: the directory's
    latest word on a student (the topic is compacted to it).

    No class, building, floor or room in the clear: a compacted topic keeps its records for
    ever, and a room beside a grade names a student. The finer placement travels as keyed
    hashes (`placement_refs`, one per scope level, `Pseudonymizer.placement_ref`), equal for
    students placed alike, readable only by a holder of the placement key.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.directory.routing"
    TOPIC: ClassVar[str] = DIRECTORY

    student_ref: str = Field(description="Pseudonymous reference of the student.")
    active: bool = Field(default=True, description="False once the student has left.")
    college: str | None = Field(default=None, description="二级学院 (coarse; stats group by it).")
    placement_refs: list[str] = Field(
        default_factory=list,
        description="Keyed hashes of the student's class, building, floor and room (one per "
        "level, as scope grants name them: `class:…`, `building:…`, `floor:<b>/<f>`, "
        "`room:<b>/<r>`), for grouping and scope checks by holders of the placement key.",
    )
    responsible: list[ResponsibleStaff] = Field(
        default_factory=list, description="Who holds each tier for this student."
    )
    updated_at: AwareDatetime = Field(description="When the placement was last imported.")
