"""Pieces of fake figure sources for the service layer's unit tests."""

from __future__ import annotations

from shouwang_stats.domain.suppression import Key


class NothingHiddenYet:
    """A source whose years have hidden nothing before and keep what they hide nowhere."""

    async def hidden_before(self, year: int, family: str) -> frozenset[Key]:
        return frozenset()

    async def remember_hidden(
        self, year: int, family: str, seen: frozenset[Key], cells: frozenset[Key]
    ) -> None:
        return None
