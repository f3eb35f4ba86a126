"""Usage readings in the node agent's memory: when a replica is due, CPU averaged between readings,
readings spread over the period, history samples queued for a deployment's replicas only."""

from __future__ import annotations

from modelplane.runtime import Usage
from modelplane.runtime.readings import Readings, next_reading, usage_period


def test_readings_are_every_5_s_and_less_often_past_1000_replicas() -> None:
    """Each reading adds a history sample: 10,000 replicas every 5 s would be 2,000 inserts a second."""
    assert [usage_period(n) for n in (1, 1000, 2000, 10_000)] == [5.0, 5.0, 10.0, 50.0]


def test_replicas_measured_together_are_measured_spread_over_the_period_after() -> None:
    """1,000 replicas measured at the same moment (they turned ready together) are due again spread
    over the next period, each at its own phase, not all at once."""
    keys = [("default", f"r{i}") for i in range(1000)]
    due = [next_reading(key, after=1000.0, period=50.0) for key in keys]
    assert all(1000.0 < d <= 1050.0 for d in due)
    per_second = [sum(1 for d in due if 1000 + s < d <= 1001 + s) for s in range(50)]
    assert max(per_second) < 45  # 20 a second on average; all at once would be 1,000
    again = [next_reading(key, after=d, period=50.0) for key, d in zip(keys, due, strict=True)]
    assert all(abs(a - d - 50.0) < 1e-6 for a, d in zip(again, due, strict=True))


def test_a_reading_averages_cpu_since_the_last_and_queues_a_sample_per_deployment_replica() -> None:
    readings = Readings()
    key = ("default", "r1")
    assert readings.due(key, now=0.0)
    readings.record(key, Usage(memory_bytes=100, cpu_seconds=1.0), deployment="iris", replicas=1, now=10.0)
    assert not readings.due(key, now=10.5)
    later = next_reading(key, after=10.0, period=5.0)
    assert readings.due(key, now=later)
    readings.record(key, Usage(memory_bytes=200, cpu_seconds=1.5), deployment="iris", replicas=1, now=12.0)
    latest = readings.latest()[key]
    assert (latest.cpu_millis, latest.memory_bytes, latest.measured_at) == (250, 200, 12.0)
    readings.record(("default", "job-1"), Usage(memory_bytes=1), deployment=None, replicas=2, now=12.0)
    samples = readings.take_samples()
    assert [(s.replica, s.cpu_millis, s.memory_bytes) for s in samples] == [
        ("r1", None, 100),
        ("r1", 250, 200),
    ]
    assert readings.take_samples() == []
    readings.record(key, Usage(), deployment="iris", replicas=1, now=20.0)  # nothing measured: forgotten
    assert key not in readings.latest() and readings.due(key, now=20.0)
