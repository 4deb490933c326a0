"""Stats holds none of the shared keys; its shared person limits are keyed by a key of its own,
which production must be given."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from shouwang_servicekit.settings import (
    LOCAL_PLACEMENT_KEY,
    LOCAL_PSEUDONYM_KEY,
)
from shouwang_servicekit.sharedlimits import SharedCounter
from shouwang_stats.config import StatsSettings

PRODUCTION = {
    "SHOUWANG_ENV": "production",
    "SHOUWANG_JWKS_URL": "https://idp.example.edu.cn/jwks",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "shouwang-stats",
    "KAFKA_SASL_PASSWORD": "pw",
}
DSN = SecretStr("postgresql://stats@127.0.0.1/shouwang")


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in ("STATS_PERSON_LIMITS_KEY", "SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_PLACEMENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**PRODUCTION, **values}.items():
        monkeypatch.setenv(name, value)


def test_production_stats_refuses_the_local_person_limits_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch)
    with pytest.raises(ValidationError, match="STATS_PERSON_LIMITS_KEY"):
        StatsSettings()


def test_stats_person_limits_are_not_keyed_by_a_public_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keyed by a local default, stats' person_limits table would let anyone reading it test
    guessed staff numbers offline; keyed by its own key, each key gives other hashes."""
    _env(monkeypatch, STATS_PERSON_LIMITS_KEY="s" * 48)
    shared = StatsSettings().person_limits(DSN).shared
    assert shared is not None
    for public in (LOCAL_PSEUDONYM_KEY, LOCAL_PLACEMENT_KEY):
        other = SharedCounter("postgresql://unused", key=public.encode())
        assert shared.person("5:campus:T1001") != other.person("5:campus:T1001")
    assert shared.person("x") == SharedCounter("p", key=b"s" * 48).person("x")
    monkeypatch.setenv("STATS_PERSON_LIMITS_KEY", "t" * 48)
    again = StatsSettings().person_limits(DSN).shared
    assert again is not None
    assert again.person("5:campus:T1001") != shared.person("5:campus:T1001")
