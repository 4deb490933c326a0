"""The roster: who the students are, where they live and study, and who looks after them.

Plain Python (stdlib only). Values follow the platform's scope words (shouwang_contracts.auth):
a student's placement is college / class / building / floor / room, and an assignment covers
`campus` (value ''), a `college`, a `class`, a `building` (`8号楼`), a `floor` (`8号楼/2`) or a
`room` (`8号楼/202`). Role and scope ids are the contracts' `Role` and `ScopeKind` values; a
unit test keeps them in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Narrowest first: the order responsible staff are listed in.
SCOPE_NARROWEST_FIRST: tuple[str, ...] = ("room", "floor", "building", "class", "college", "campus")

# The roles a directory entry lists, in ladder order (tiers 1-6, then the college leader).
DIRECTORY_ROLES: tuple[str, ...] = (
    "dorm_leader",
    "floor_leader",
    "class_wellbeing_officer",
    "residence_counselor",
    "community_psych_teacher",
    "counseling_center",
    "college_leader",
)

# Roles an import may assign. platform_admin is cross-campus and never comes from a roster.
ASSIGNABLE_ROLES: frozenset[str] = frozenset({*DIRECTORY_ROLES, "campus_admin", "auditor"})


@dataclass(frozen=True, slots=True)
class StudentPlacement:
    """Where a student studies and lives; mirrors shouwang_contracts.auth.Placement."""

    college: str | None = None
    class_name: str | None = None
    building: str | None = None
    floor: str | None = None
    room: str | None = None

    def covered_by(self, scope_kind: str, scope_value: str) -> bool:
        """Whether an assignment of that scope covers a student placed here."""
        match scope_kind:
            case "campus":
                return True
            case "college":
                return self.college is not None and self.college == scope_value
            case "class":
                return self.class_name is not None and self.class_name == scope_value
            case "building":
                return self.building is not None and self.building == scope_value
            case "floor":
                return self.floor is not None and f"{self.building}/{self.floor}" == scope_value
            case "room":
                return self.room is not None and f"{self.building}/{self.room}" == scope_value
        return False

    def scope_keys(self) -> set[tuple[str, str]]:
        """Every (scope_kind, scope_value) that covers a student placed here."""
        keys = {("campus", "")}
        if self.college is not None:
            keys.add(("college", self.college))
        if self.class_name is not None:
            keys.add(("class", self.class_name))
        if self.building is not None:
            keys.add(("building", self.building))
        if self.floor is not None:
            keys.add(("floor", f"{self.building}/{self.floor}"))
        if self.room is not None:
            keys.add(("room", f"{self.building}/{self.room}"))
        return keys


@dataclass(frozen=True, slots=True)
class Student:
    """One row of the student roster, normalised."""

    student_no: str
    name: str
    gender: str | None = None
    college: str | None = None
    major: str | None = None
    class_name: str | None = None
    campus_name: str | None = None
    building: str | None = None
    floor: str | None = None
    room: str | None = None

    @property
    def placement(self) -> StudentPlacement:
        """The part of the row scope checks and the directory care about."""
        return StudentPlacement(self.college, self.class_name, self.building, self.floor, self.room)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One person holding one role for one scope; `holder` is a number or a person_ref."""

    holder: str
    role: str
    scope_kind: str
    scope_value: str


@dataclass(frozen=True, slots=True)
class StaffMember:
    """One row of the staff roster: a person (工号 or 学号), their name and one assignment."""

    staff_no: str
    name: str
    role: str
    scope_kind: str
    scope_value: str

    @property
    def assignment(self) -> Assignment:
        """The row's assignment, held by its number (the adapter swaps in the person_ref)."""
        return Assignment(self.staff_no, self.role, self.scope_kind, self.scope_value)


# --- what changes when a roster is imported ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownStudent:
    """A student already on file, with whether they are still enrolled."""

    student: Student
    active: bool


@dataclass(slots=True)
class StudentChanges:
    """What a student import does: who is new, who changed, who left, who is untouched."""

    created: list[Student]
    updated: list[Student]
    reactivated: list[Student]
    deactivated: list[Student]
    unchanged: int
    moved: list[Student] = field(default_factory=list)  # updated with another placement

    @property
    def to_save(self) -> list[Student]:
        """Rows to write: new, changed and returning students."""
        return [*self.created, *self.updated, *self.reactivated]

    @property
    def directory_changes(self) -> list[tuple[Student, bool]]:
        """Students whose directory entry changes, with their `active` flag afterwards.

        A corrected name or major changes no entry: entries carry placement, never names.
        """
        changed = [(s, True) for s in (*self.created, *self.reactivated, *self.moved)]
        changed += [(s, False) for s in self.deactivated]
        return changed

    def counts(self) -> dict[str, int]:
        """How many students each kind of change touches, for the import record."""
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "reactivated": len(self.reactivated),
            "deactivated": len(self.deactivated),
            "unchanged": self.unchanged,
        }


def plan_student_changes(
    known: dict[str, KnownStudent], incoming: Iterable[Student], *, snapshot: bool
) -> StudentChanges:
    """Compare an imported roster with the students on file.

    A `snapshot` import is the whole current roster: students on file but not in it have left
    and are deactivated (kept for their file, flagged inactive). Otherwise the import only
    adds and updates. Importing the same roster twice changes nothing the second time.
    """
    changes = StudentChanges([], [], [], [], 0)
    seen: set[str] = set()
    for student in incoming:
        seen.add(student.student_no)
        before = known.get(student.student_no)
        if before is None:
            changes.created.append(student)
        elif not before.active:
            changes.reactivated.append(student)
        elif before.student != student:
            changes.updated.append(student)
            if before.student.placement != student.placement:
                changes.moved.append(student)
        else:
            changes.unchanged += 1
    if snapshot:
        changes.deactivated = [
            k.student for no, k in sorted(known.items()) if k.active and no not in seen
        ]
    return changes


@dataclass(slots=True)
class AssignmentChanges:
    """What a staff import does to the assignments on file."""

    added: set[Assignment]
    removed: set[Assignment]
    unchanged: int

    def counts(self) -> dict[str, int]:
        """How many assignments are added, removed and kept, for the import record."""
        return {"added": len(self.added), "removed": len(self.removed), "unchanged": self.unchanged}


def plan_assignment_changes(
    known: set[Assignment], incoming: Iterable[Assignment], *, snapshot: bool
) -> AssignmentChanges:
    """Compare imported assignments with those on file; a snapshot removes the missing ones."""
    wanted = set(incoming)
    return AssignmentChanges(
        added=wanted - known,
        removed=(known - wanted) if snapshot else set(),
        unchanged=len(wanted & known),
    )


def _scope_key(assignment: Assignment) -> tuple[str, str]:
    # A campus grant covers everyone whatever its value says.
    if assignment.scope_kind == "campus":
        return ("campus", "")
    return (assignment.scope_kind, assignment.scope_value)


class ResponsibleIndex:
    """Ladder assignments indexed by scope, so finding who is responsible for each of 20,000
    students costs six look-ups per student, not a scan of every assignment."""

    def __init__(self, assignments: Iterable[Assignment]) -> None:
        self._by_scope: dict[tuple[str, str], list[Assignment]] = {}
        for a in assignments:
            if a.role in DIRECTORY_ROLES:
                self._by_scope.setdefault(_scope_key(a), []).append(a)

    def responsible(self, placement: StudentPlacement) -> list[tuple[str, str]]:
        """(role, holder) of everyone responsible for a student placed there.

        In ladder order (DIRECTORY_ROLES); within a role the narrowest scope first, then by
        holder; each holder once per role.
        """
        found = sorted(
            (
                DIRECTORY_ROLES.index(a.role),
                SCOPE_NARROWEST_FIRST.index(a.scope_kind),
                a.holder,
                a.role,
            )
            for key in placement.scope_keys()
            for a in self._by_scope.get(key, ())
        )
        seen: set[tuple[str, str]] = set()
        result: list[tuple[str, str]] = []
        for _, _, holder, role in found:
            if (role, holder) not in seen:
                seen.add((role, holder))
                result.append((role, holder))
        return result


def responsible_staff(
    placement: StudentPlacement, assignments: Iterable[Assignment]
) -> list[tuple[str, str]]:
    """(role, holder) of everyone responsible for one student; see ResponsibleIndex."""
    return ResponsibleIndex(assignments).responsible(placement)


def affected_by(placements: dict[str, StudentPlacement], changed: Iterable[Assignment]) -> set[str]:
    """Keys of the placements some changed ladder assignment covers (directory to republish)."""
    changed_scopes = {_scope_key(a) for a in changed if a.role in DIRECTORY_ROLES}
    if not changed_scopes:
        return set()
    return {key for key, placement in placements.items() if placement.scope_keys() & changed_scopes}


def scopes_without_students(
    placements: Iterable[StudentPlacement], assignments: Iterable[Assignment]
) -> list[tuple[str, str]]:
    """Scopes assigned (campus aside) that cover no placement: a name the two exports spell
    differently, or a building nobody lives in yet."""
    covered: set[tuple[str, str]] = set()
    for placement in placements:
        covered |= placement.scope_keys()
    return sorted({_scope_key(a) for a in assignments if a.scope_kind != "campus"} - covered)


# --- normalising what exports write ------------------------------------------------------------


_FLOOR = re.compile(r"^(?:第)?(?P<floor>B?\d{1,3})(?:层|楼|F)?$", re.IGNORECASE)
_ROOM = re.compile(r"^(?P<room>[0-9A-Za-z][0-9A-Za-z\-]{0,15})(?:室|寝室|宿舍)?$")
_BUILDING_AND_FLOOR = re.compile(
    r"^(?P<building>.*?\D)\s*[/\-_ ]?\s*(?:第)?(?P<floor>B?\d{1,3})\s*(?:层|楼|F)?$", re.IGNORECASE
)
_BUILDING_AND_ROOM = re.compile(
    r"^(?P<building>.*?\D)\s*[/\-_ ]?\s*(?P<room>\d{1,6}[A-Za-z]?)\s*(?:室|寝室|宿舍)?$"
)


def normalise_building(text: str) -> str:
    """A building as scope values use it: no spaces (`8 号楼` → `8号楼`)."""
    return text.replace(" ", "")


def normalise_floor(text: str) -> str | None:
    """`2`, `2层`, `第2层`, `2F`, `B1` → `2` / `B1`; None when it is not a floor."""
    match = _FLOOR.match(text.replace(" ", ""))
    return match["floor"].upper().lstrip("0") or "0" if match else None


def normalise_room(text: str, building: str | None) -> str | None:
    """`202`, `202室`, `8号楼202` (when in 8号楼) → `202`; None when it is not a room."""
    compact = text.replace(" ", "")
    if building and compact.startswith(building):
        compact = compact[len(building) :].lstrip("/-_")
    match = _ROOM.match(compact)
    return match["room"].upper() if match else None


def parse_scope_value(kind: str, text: str | None) -> str | None:
    """The scope value of `kind` written in an export's words; None when unreadable.

    `8号楼202` / `8号楼/202` / `8号楼-202室` → `8号楼/202` (room); `7号楼3层` / `7号楼/3` →
    `7号楼/3` (floor); buildings, classes and colleges as written; campus → ''.
    """
    if kind == "campus":
        return ""
    if not text:
        return None
    compact = text.replace(" ", "")
    if kind == "floor":
        match = _BUILDING_AND_FLOOR.match(compact)
        if not match:
            return None
        building = match["building"].rstrip("/-_")
        return f"{building}/{normalise_floor(match['floor'])}" if building else None
    if kind == "room":
        match = _BUILDING_AND_ROOM.match(compact)
        if not match:
            return None
        building = match["building"].rstrip("/-_")
        return f"{building}/{match['room'].upper()}" if building else None
    if kind == "building":
        return normalise_building(text)
    return text
