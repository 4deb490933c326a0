"""Severity levels as ordered integers, so the rules can compare and raise them."""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    """none < mild < moderate < severe < critical; `.id` is the contract's severity id."""

    NONE = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3
    CRITICAL = 4

    @property
    def id(self) -> str:
        """The severity id used in events and the policy file (`"severe"`)."""
        return self.name.lower()

    @classmethod
    def from_id(cls, value: str) -> Level:
        """The level named by a severity id such as `"moderate"`."""
        return cls[value.upper()]

    def raised_by(self, steps: int, ceiling: Level) -> Level:
        """This level raised `steps` rungs, never past `ceiling`, never below itself."""
        return max(self, min(Level(min(self + steps, Level.CRITICAL)), ceiling))
