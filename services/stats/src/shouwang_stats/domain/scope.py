"""Whose figures are counted: some campuses and some colleges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """Campuses (None: all of them) and colleges (None: all of them)."""

    campuses: tuple[str, ...] | None
    colleges: tuple[str, ...] | None = None

    @property
    def campus_id(self) -> str | None:
        """The one campus, when the scope is one campus."""
        return self.campuses[0] if self.campuses and len(self.campuses) == 1 else None
