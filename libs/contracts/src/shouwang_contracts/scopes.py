"""What part of a campus a token's grants cover, and which grants each role may hold.

A grant (`ScopeGrant`: `campus`, `college:…`, `class:…`, `building:…`, `floor:…`, `room:…`)
widens what its holder sees beyond the roster's assignments. Identity providers map their own
attributes onto grants, and a mapping gone wide (or compromised) must not widen what a peer
reporter sees: `ROLE_GRANTS` is the one table of which grants each role may carry, applied by
the gateway when it opens a session and by every service when a token becomes a `Principal`
(`shouwang_contracts.auth`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from .vocabulary import Role

logger = logging.getLogger("shouwang.grants")


class ScopeKind(StrEnum):
    """What part of a campus a grant covers, from widest to narrowest."""

    CAMPUS = "campus"
    COLLEGE = "college"
    CLASS = "class"
    BUILDING = "building"
    FLOOR = "floor"
    ROOM = "room"


class ScopeGrant(BaseModel):
    """One grant: `building:8号楼`, `floor:7号楼/3`, `room:8号楼/202`, `class:建工2401`, `campus`."""

    model_config = ConfigDict(frozen=True)

    kind: ScopeKind
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> ScopeGrant:
        kind, _, value = text.partition(":")
        return cls(kind=ScopeKind(kind.strip()), value=value.strip())

    def __str__(self) -> str:
        return self.kind.value if self.kind is ScopeKind.CAMPUS else f"{self.kind}:{self.value}"


_K = ScopeKind
_PLACES = frozenset({_K.BUILDING, _K.FLOOR, _K.ROOM})
_EVERYTHING = frozenset(ScopeKind)
#: The grants each role may carry, from its tier and duties (DESIGN.md, "The six-tier warning
#: network"). A peer reporter holds at most the part of the community they report about: a
#: dorm-room leader their room, a floor leader their floor (and its rooms), a class wellbeing
#: officer their class. A residence counselor holds their buildings (or floors, rooms) and
#: classes, never a college or the campus; a college leader their colleges and nothing across
#: them (a building or a class would reach students of other colleges). The community
#: psychology teacher is stationed where the campus sends them, up to the whole campus; the
#: counseling center and campus admins are campus-wide by role. Platform admins (aggregated
#: figures of every campus) and auditors (the audit log) read nothing by scope: no grant.
ROLE_GRANTS: Mapping[Role, frozenset[ScopeKind]] = MappingProxyType(
    {
        Role.DORM_LEADER: frozenset({_K.ROOM}),
        Role.FLOOR_LEADER: frozenset({_K.FLOOR, _K.ROOM}),
        Role.CLASS_WELLBEING_OFFICER: frozenset({_K.CLASS}),
        Role.RESIDENCE_COUNSELOR: _PLACES | {_K.CLASS},
        Role.COMMUNITY_PSYCH_TEACHER: _EVERYTHING,
        Role.COUNSELING_CENTER: _EVERYTHING,
        Role.COLLEGE_LEADER: frozenset({_K.COLLEGE}),
        Role.CAMPUS_ADMIN: frozenset({_K.CAMPUS}),
        Role.PLATFORM_ADMIN: frozenset(),
        Role.AUDITOR: frozenset(),
    }
)
#: The grants a role cannot work without, one of them at least: a college leader sees the
#: figures and case facts of their colleges, named only by their grants. Every other role's
#: scope comes from its role or the roster's assignments as well, so it works without one (a
#: student whose wrong grants are dropped must still be able to report).
ROLE_NEEDS: Mapping[Role, frozenset[ScopeKind]] = MappingProxyType(
    {Role.COLLEGE_LEADER: frozenset({_K.COLLEGE})}
)


def narrow_grants(
    role: Role, grants: Iterable[ScopeGrant]
) -> tuple[tuple[ScopeGrant, ...], tuple[ScopeGrant, ...]]:
    """The grants `role` may hold (`ROLE_GRANTS`), and those it may not: a finer grant
    without a value (`college:`) names nothing and is dropped too."""
    allowed = ROLE_GRANTS[role]
    kept: list[ScopeGrant] = []
    dropped: list[ScopeGrant] = []
    for grant in grants:
        named = grant.kind is ScopeKind.CAMPUS or bool(grant.value)
        (kept if grant.kind in allowed and named else dropped).append(grant)
    return tuple(kept), tuple(dropped)


def lacks_what_it_needs(role: Role, grants: Iterable[ScopeGrant]) -> bool:
    """Whether a role that needs a grant (`ROLE_NEEDS`) holds none it needs."""
    needed = ROLE_NEEDS.get(role)
    return needed is not None and not any(g.kind in needed for g in grants)


def log_dropped(role: Role, dropped: Iterable[ScopeGrant], where: str) -> None:
    """One warning per kind of grant dropped: the role and the kind, never the person or the
    grant's value (a room or a class names few people)."""
    for kind in sorted({g.kind.value for g in dropped}):
        logger.warning(
            "a grant its role may not hold was dropped",
            extra={"role": role.value, "grant_kind": kind, "where": where},
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a student lives and studies, as far as scope checks need it."""

    college: str | None = None
    class_name: str | None = None
    building: str | None = None
    floor: str | None = None
    room: str | None = None

    def finer_grants(self) -> list[str]:
        """The grants below college level that cover this placement, as their text
        (`class:…`, `building:…`, `floor:<b>/<f>`, `room:<b>/<r>`): what the directory
        stream hashes (`PlacementHasher`)."""
        grants = []
        if self.class_name:
            grants.append(f"{ScopeKind.CLASS}:{self.class_name}")
        if self.building:
            grants.append(f"{ScopeKind.BUILDING}:{self.building}")
            if self.floor:
                grants.append(f"{ScopeKind.FLOOR}:{self.building}/{self.floor}")
            if self.room:
                grants.append(f"{ScopeKind.ROOM}:{self.building}/{self.room}")
        return grants

    def matches(self, grant: ScopeGrant) -> bool:
        match grant.kind:
            case ScopeKind.CAMPUS:
                return True
            case ScopeKind.COLLEGE:
                return self.college == grant.value
            case ScopeKind.CLASS:
                return self.class_name == grant.value
            case ScopeKind.BUILDING:
                return self.building == grant.value
            case ScopeKind.FLOOR:
                return f"{self.building}/{self.floor}" == grant.value
            case ScopeKind.ROOM:
                return f"{self.building}/{self.room}" == grant.value
