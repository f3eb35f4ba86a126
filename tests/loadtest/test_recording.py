"""The recorder: per-second rows by completion time, errors apart from latencies, bounded histogram."""

from __future__ import annotations

import numpy as np
import pytest

from modelplane.loadtest.recording import BUCKETS, Histogram, Recorder


def test_rows_count_offered_by_due_second_and_ends_by_their_second() -> None:
    recorder = Recorder(2)
    recorder.offer(0, 0, 3)
    recorder.record(0, 0.2, 0.010, None)
    recorder.record(0, 0.9, 0.030, "503")
    recorder.record(0, 1.1, 0.020, None)  # due in second 0, ended in second 1
    recorder.replicas(1, 1, ready=2, desired=4)
    first = recorder.close(0)
    assert (first[0].offered, first[0].served, first[0].errors) == (3, 1, 1)
    assert first[0].p50_ms == pytest.approx(10)  # the 503's 30 ms is not a latency
    assert first[1].served == 0 and first[1].p50_ms is None
    second = recorder.close(1)
    assert (second[0].offered, second[0].served) == (0, 1)
    assert (second[1].ready, second[1].desired) == (2, 4)
    assert recorder.error_kinds[0] == {"503": 1}
    assert (recorder.offered, recorder.served, recorder.errors) == ([3, 0], [2, 0], [1, 0])


def test_close_skips_ahead_and_late_records_go_to_the_next_open_second() -> None:
    recorder = Recorder(1)
    recorder.close(2)
    assert [row.t for row in recorder.rows[0]] == [0, 1, 2]
    recorder.record(0, 1.5, 0.001, None)  # a clock behind the ticker: counted, in second 3
    assert recorder.close(3)[0].served == 1


def test_percentiles_of_a_second_are_exact() -> None:
    recorder = Recorder(1)
    for ms in range(1, 101):
        recorder.record(0, 0.5, ms / 1000, None)
    row = recorder.close(0)[0]
    assert row.p50_ms == pytest.approx(50.5)
    assert row.p99_ms == pytest.approx(99.01)


@pytest.mark.parametrize("q", [50, 90, 99, 99.9])
def test_histogram_percentiles_within_one_percent(q: float) -> None:
    latencies = np.random.default_rng(0).lognormal(mean=-4, sigma=1.2, size=200_000)
    histogram = Histogram()
    for chunk in np.array_split(latencies, 7):
        histogram.add(chunk)
    value = histogram.percentile(q)
    assert value is not None
    assert value == pytest.approx(float(np.percentile(latencies, q)), rel=0.011)
    assert histogram.max == latencies.max()
    assert histogram.mean() == pytest.approx(latencies.mean())


def test_histogram_is_bounded_and_clips() -> None:
    histogram = Histogram()
    histogram.add(np.array([0.0, 1e-9, 5000.0]))
    assert len(histogram.counts) == BUCKETS < 2200
    assert histogram.total == 3
    assert histogram.percentile(100) == 5000.0
    assert Histogram().percentile(50) is None
