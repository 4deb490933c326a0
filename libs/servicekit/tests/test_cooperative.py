"""Bulk work yields by the clock: a slice is over once its time has passed, not after N rows."""

from __future__ import annotations

import time

from shouwang_servicekit.cooperative import TimeSlice


def test_a_slice_is_over_only_once_its_time_has_passed_and_renews() -> None:
    held = TimeSlice(0.05)
    assert not held.over()
    time.sleep(0.06)
    assert held.over()
    held.renew()
    assert not held.over()


def test_a_zero_slice_is_always_over() -> None:
    held = TimeSlice(0.0)
    assert held.over()
