"""When a start rebuilds: a fresh database (never replayed) or rules newer than the projection's."""

from __future__ import annotations

from datetime import UTC, datetime

from shouwang_stats.adapters.generations import Generation
from shouwang_stats.entrypoints.scheduler import needs_rebuild
from shouwang_stats.service_layer.rebuild import PROJECTION_VERSION

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def generation(version: int, replayed: int | None) -> Generation:
    return Generation(1, version, "active", NOW, NOW, replayed)


def test_a_projection_built_by_older_rules_is_rebuilt() -> None:
    assert needs_rebuild(generation(PROJECTION_VERSION - 1, replayed=1000))


def test_a_fresh_projection_never_replayed_from_the_topics_is_rebuilt() -> None:
    assert needs_rebuild(generation(PROJECTION_VERSION, replayed=None))


def test_a_current_rebuilt_projection_is_kept() -> None:
    assert not needs_rebuild(generation(PROJECTION_VERSION, replayed=1000))
    # A newer projection (a newer replica rebuilt it during a rolling update) is kept too.
    assert not needs_rebuild(generation(PROJECTION_VERSION + 1, replayed=1000))
