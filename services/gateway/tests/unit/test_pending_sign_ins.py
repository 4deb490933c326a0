"""The sealed OIDC sign-in a browser carries between the redirect and the provider's return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shouwang_gateway.adapters.pending import PENDING_SECONDS, PendingSeal, PendingSignIn

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
SEAL = PendingSeal(b"k" * 32)
PENDING = PendingSignIn(
    state="state-1", code_verifier="v" * 64, nonce="n-1", return_to="/desk/queue", created_at=NOW
)


def test_the_sign_in_comes_back_whole_to_the_browser_that_carries_it() -> None:
    sealed = SEAL.seal(PENDING)
    # Sealed, not only signed: the browser cannot read the verifier.
    assert "v" * 64 not in sealed
    assert "/desk" not in sealed
    assert SEAL.open(sealed, "state-1", NOW + timedelta(minutes=5)) == PENDING


def test_an_altered_cookie_opens_nothing() -> None:
    sealed = SEAL.seal(PENDING)
    for i in (0, len(sealed) // 2, len(sealed) - 2):
        flipped = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1 :]
        assert SEAL.open(flipped, "state-1", NOW) is None


@pytest.mark.parametrize(
    ("value", "state", "now"),
    [
        (None, "state-1", NOW),
        ("", "state-1", NOW),
        ("not base64 !", "state-1", NOW),
        ("A" * 5000, "state-1", NOW),
        ("sealed", "state-2", NOW),  # another sign-in's state
        ("sealed", "state-1", NOW + timedelta(seconds=PENDING_SECONDS + 1)),  # stale
        ("other-key", "state-1", NOW),  # sealed by another gateway's secret
    ],
)
def test_a_missing_stale_foreign_or_mismatched_cookie_opens_nothing(
    value: str | None, state: str, now: datetime
) -> None:
    if value == "sealed":
        value = SEAL.seal(PENDING)
    elif value == "other-key":
        value = PendingSeal(b"o" * 32).seal(PENDING)
    assert SEAL.open(value, state, now) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PendingSeal(b"short")
