"""The control plane's store of 1 s buckets: reports land in the second they arrive, series no
report names are dropped after their retention, the bounds hold, and a replica costs what the
module docstring says."""

from __future__ import annotations

import tracemalloc

import pytest

from modelplane.metrics import Column, MetricsStore, ReplicaReport, RouterReport, VersionReport


def _report(*versions: VersionReport, replicas: tuple[ReplicaReport, ...] = ()) -> RouterReport:
    return RouterReport(interval_s=1.0, versions=versions, replicas=replicas)


def _version(
    deployment: str = "m", version: str = "v1", requests: int = 0, inflight: float = 0.0
) -> VersionReport:
    latency = (requests,) + (0,) * 14
    return VersionReport(
        namespace="default",
        deployment=deployment,
        version=version,
        requests=requests,
        latency=latency,
        inflight=inflight,
    )


def test_reports_fill_the_second_they_arrive_in_and_sum_over_versions() -> None:
    store = MetricsStore()
    for second in range(100, 110):
        store.record(
            _report(_version(requests=5, inflight=1.5), _version(version="v2", requests=1)), now=second + 0.3
        )
    assert sorted(store.versions("default", "m")) == ["v1", "v2"]
    buckets, first = store.buckets("default", "m", Column.REQUESTS, now=109.9, window_s=60)
    assert first == 100 and buckets == {s: 6.0 for s in range(100, 110)}
    inflight, _ = store.buckets("default", "m", Column.INFLIGHT, now=109.9, window_s=3)
    assert inflight == {107: 1.5, 108: 1.5, 109: 1.5}
    assert store.deployments() == [("default", "m")] and store.deployments("other") == []


def test_a_longer_interval_keeps_level_seconds() -> None:
    """A report after a failed push covers 2 s: its average level counts for both seconds."""
    store = MetricsStore()
    report = RouterReport(interval_s=2.0, versions=(_version(inflight=3.0),))
    store.record(report, now=50.0)
    buckets, _ = store.buckets("default", "m", Column.INFLIGHT, now=51.0, window_s=2)
    assert buckets == {50: 6.0}


def test_series_no_report_names_are_dropped_after_their_retention() -> None:
    store = MetricsStore(retention_s=30, replica_retention_s=10)
    replica = ReplicaReport(namespace="default", deployment="m", replica="m-1", inflight=1, requests=3)
    store.record(_report(_version(), replicas=(replica,)), now=0.0)
    store.record(_report(_version(deployment="other")), now=15.0)  # sweeps (every 10 s): m-1 is gone
    assert store.series_count == (2, 0)
    store.record(_report(_version(deployment="other")), now=40.0)  # m: 40 s without a report
    assert store.series_count == (1, 0) and store.deployments() == [("default", "other")]


def test_new_series_past_the_bound_are_refused_and_counted() -> None:
    store = MetricsStore(max_series=2, max_replicas=1)
    replicas = tuple(ReplicaReport(namespace="default", deployment="m", replica=f"m-{i}") for i in range(3))
    store.record(_report(*(_version(deployment=f"d{i}") for i in range(4)), replicas=replicas), now=1.0)
    assert store.series_count == (2, 1)
    assert store.refused == 4


def test_memory_per_replica_and_per_version_is_what_the_docstring_says() -> None:
    store = MetricsStore()
    count = 1000
    replicas = tuple(
        ReplicaReport(namespace="default", deployment="m", replica=f"m-{i:05d}", inflight=1, requests=1)
        for i in range(count)
    )
    versions = tuple(_version(deployment=f"deployment-{i:04d}", requests=1) for i in range(100))
    report = _report(*versions, replicas=replicas)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    store.record(report, now=1.0)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per = (grown - 100 * 58_000) / count  # the versions' share first, from the docstring
    print(f"{per:.0f} bytes per replica, {grown} in all")
    assert 1_440 <= per <= 2.2 * 1024, per  # "about 1.9 KiB per replica"
    assert grown / (100 * 58_000 + count * 1_900) == pytest.approx(1.0, abs=0.25)
