"""Reading Kafka's producer benchmark: the figures the bench prints come from its summary."""

from __future__ import annotations

import pytest
from raw_kafka import parse_summary, unacknowledged

# What ProducerPerformance (Kafka 4.1) prints: progress lines every five seconds, then one
# summary of the whole run.
OUTPUT = """\
101239 records sent, 20247.8 records/sec (17.75 MB/sec), 812.3 ms avg latency, 1402.0 ms max latency.
200000 records sent, 43506.6 records/sec (29.04 MB/sec), 643.60 ms avg latency, 923.00 ms max \
latency, 723 ms 50th, 861 ms 95th, 879 ms 99th, 914 ms 99.9th.
"""


def test_the_summary_line_gives_the_figures() -> None:
    figures = parse_summary(OUTPUT)
    assert figures.sent == 200_000
    assert figures.rate == pytest.approx(43506.6)
    assert (figures.p50_ms, figures.p99_ms) == (723, 879)
    assert unacknowledged(figures, 200_000) == 0
    assert unacknowledged(figures, 200_300) == 300, "failed sends are not in the summary's count"


def test_output_without_a_summary_is_an_error_that_shows_it() -> None:
    with pytest.raises(RuntimeError, match="printed no summary") as caught:
        parse_summary("Exception in thread main: TimeoutException\n")
    assert "TimeoutException" in str(caught.value)
