"""1 s buckets: a ring that forgets old laps, window sums and averages as the autoscaler reads them,
percentiles from histogram counts as Prometheus computes them."""

from __future__ import annotations

import pytest

from modelplane.autoscaler.windows import window_average
from modelplane.metrics.buckets import VERSION_COLUMNS, Column, Ring, quantile, summarise
from modelplane.metrics.report import LATENCY_BOUNDS_S


def _row(requests: float = 0, inflight: float = 0, latency_bucket: int | None = None) -> list[float]:
    row = [0.0] * VERSION_COLUMNS
    row[Column.REQUESTS] = requests
    row[Column.INFLIGHT] = inflight
    if latency_bucket is not None:
        row[len(Column) + latency_bucket] = requests
    return row


def test_a_slot_from_an_older_lap_reads_as_nothing() -> None:
    ring = Ring(5, VERSION_COLUMNS)
    ring.add(100, _row(requests=3), now=100.2)
    ring.add(100, _row(requests=2), now=100.9)  # two reports in one second add up
    assert ring.bucket(100)[Column.REQUESTS] == 5  # type: ignore[index]
    ring.add(105, _row(requests=7), now=105.1)  # same slot, one lap later
    assert ring.bucket(100) is None
    assert ring.bucket(105)[Column.REQUESTS] == 7  # type: ignore[index]
    ring.add(99, _row(requests=1), now=105.2)  # older than the ring holds: ignored
    assert ring.window_sums(now=105.5, window_s=5)[Column.REQUESTS] == 7


def test_window_sums_and_averages_follow_window_average() -> None:
    ring = Ring(300, VERSION_COLUMNS)
    for second in range(1000, 1010):
        ring.add(second, _row(requests=10, inflight=2.0), now=second + 0.5)
    # 10 s lived: a 60 s window averages over those 10 s (a young series is not judged on 60 s)
    assert ring.average(Column.REQUESTS, now=1009.5, window_s=60) == pytest.approx(10)
    assert ring.average(Column.INFLIGHT, now=1009.5, window_s=6) == pytest.approx(2.0)
    # 20 s later, without reports: the gap counts as zeros
    assert ring.average(Column.REQUESTS, now=1029.5, window_s=30) == pytest.approx(100 / 30)
    buckets = ring.column(Column.REQUESTS, now=1029.5, window_s=30)
    assert ring.average(Column.REQUESTS, now=1029.5, window_s=30) == window_average(
        buckets, first=1000, now=1029.5, window_s=30
    )
    summary = summarise(ring, now=1029.5, window_s=30)
    assert summary.requests == 100 and summary.requests_per_s == pytest.approx(100 / 30)
    assert summary.inflight == pytest.approx(20 / 30)


@pytest.mark.parametrize(
    ("q", "counts", "expected"),
    [
        (0.5, [0] * 15, None),  # nothing counted
        (0.5, [10] + [0] * 14, 0.00025),  # linear inside the first bucket [0, 0.5 ms]
        (0.99, [0, 0, 0, 0, 0, 100] + [0] * 9, 0.01 + 0.015 * 0.99),  # (10 ms, 25 ms]
        (0.5, [50, 50] + [0] * 13, 0.0005),  # the rank falls exactly on a bound
        (0.99, [1] + [0] * 13 + [99], 10.0),  # the unbounded bucket reads as the highest bound
    ],
)
def test_quantile_from_histogram_counts(q: float, counts: list[int], expected: float | None) -> None:
    assert len(counts) == len(LATENCY_BOUNDS_S) + 1
    assert quantile(q, counts) == (pytest.approx(expected) if expected is not None else None)


def test_summary_percentiles_and_error_rate() -> None:
    ring = Ring(60, VERSION_COLUMNS)
    row = _row(requests=100, latency_bucket=5)
    row[Column.ERRORS] = 4
    row[Column.CLIENT_CLOSED] = 1
    ring.add(10, row, now=10.0)
    summary = summarise(ring, now=10.5, window_s=60)
    assert summary.error_rate == pytest.approx(0.04) and summary.client_closed == 1
    assert summary.p50_s == pytest.approx(0.0175) and summary.p99_s == pytest.approx(0.02485)
