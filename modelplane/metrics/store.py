"""The control plane's request metrics: 1 s buckets per (namespace, deployment, version) and per
replica, filled by the routers' reports, bounded in memory (Knative's autoscaler keeps the same
buckets, pkg/autoscaler/aggregation).

Retention and memory (fixed per series when it is made, `buckets.Ring`):
- a version: the last `retention_s` (300) seconds × 23 numbers (8 counts and levels, 15 latency
  buckets) × 8 bytes + 300 stamps × 8 bytes = 57,600 bytes, plus ~0.6 KiB of headers and keys:
  **about 57 KiB per version**; at most `max_series` (1,024) of them: ≤ 58 MiB;
- a replica: the last `replica_retention_s` (60) seconds × 2 numbers (in-flight level, requests)
  × 8 bytes + 60 stamps × 8 bytes = 1,440 bytes, plus ~0.5 KiB of headers and keys:
  **about 1.9 KiB per replica** (1,895 bytes measured with tracemalloc by
  tests/metrics/test_store.py); at most `max_replicas` (20,000): ≤ 38 MiB.
Cumulative totals per version (for the Prometheus counters) add 21 numbers.

A series no report has named for its retention (a deleted deployment, a replica gone) is dropped,
checked at most every `SWEEP_S`; a new series past the bound is not kept, and counted in `refused`
(the sweep frees room as old ones go). Buckets are stamped with the control plane's clock when a
report arrives (never the router's), so routers with skewed clocks still land in the same second.
Everything runs on the control plane's event loop: no locks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from modelplane.metrics.buckets import (
    LATENCY,
    REPLICA_COLUMNS,
    VERSION_COLUMNS,
    Column,
    Ring,
)
from modelplane.metrics.report import RouterReport

RETENTION_S = 300
REPLICA_RETENTION_S = 60
MAX_SERIES = 1_024
MAX_REPLICAS = 20_000
SWEEP_S = 10.0

VersionKey = tuple[str, str, str]  # namespace, deployment, version
ReplicaKey = tuple[str, str, str]  # namespace, deployment, replica


@dataclass(eq=False)
class VersionSeries:
    ring: Ring
    totals: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(VERSION_COLUMNS))
    """Counts since the series was made (levels stay 0 here): the Prometheus counters."""


class MetricsStore:
    """The buckets of every reported version and replica; `record` a report, read windows."""

    def __init__(
        self,
        *,
        retention_s: int = RETENTION_S,
        replica_retention_s: int = REPLICA_RETENTION_S,
        max_series: int = MAX_SERIES,
        max_replicas: int = MAX_REPLICAS,
    ) -> None:
        self.retention_s = retention_s
        self.replica_retention_s = replica_retention_s
        self.max_series = max_series
        self.max_replicas = max_replicas
        self._versions: dict[VersionKey, VersionSeries] = {}
        self._replicas: dict[ReplicaKey, Ring] = {}
        self.reports = 0
        self.refused = 0  # series not kept because the store was full
        self.last_report: float | None = None  # when the latest report arrived (the store's clock)
        self._swept = 0.0

    def record(self, report: RouterReport, *, now: float) -> None:
        """Add `report` to the bucket of the second it arrived in (`now`)."""
        second = math.floor(now)
        interval = report.interval_s
        for v in report.versions:
            series = self._version((v.namespace, v.deployment, v.version), now)
            if series is None:
                continue
            row = np.zeros(VERSION_COLUMNS)
            row[Column.REQUESTS] = v.requests
            row[Column.ERRORS] = v.errors
            row[Column.CLIENT_CLOSED] = v.client_closed
            row[Column.RETRIES] = v.retries
            row[Column.LATENCY_SUM_S] = v.latency_sum_s
            row[LATENCY:] = v.latency
            series.totals += row
            row[Column.INFLIGHT] = v.inflight * interval
            row[Column.QUEUED] = v.queued * interval
            row[Column.HELD] = v.held * interval
            series.ring.add(second, row, now=now)
        for r in report.replicas:
            ring = self._replica((r.namespace, r.deployment, r.replica), now)
            if ring is not None:
                ring.add(second, (r.inflight * interval, float(r.requests)), now=now)
        self.reports += 1
        self.last_report = now
        if now - self._swept >= SWEEP_S:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Drop the series no report named for their retention."""
        self._swept = now
        for key in [k for k, s in self._versions.items() if now - s.ring.seen > self.retention_s]:
            del self._versions[key]
        for key in [k for k, r in self._replicas.items() if now - r.seen > self.replica_retention_s]:
            del self._replicas[key]

    def _version(self, key: VersionKey, now: float) -> VersionSeries | None:
        series = self._versions.get(key)
        if series is None:
            if len(self._versions) >= self.max_series:
                self.refused += 1
                return None
            series = self._versions[key] = VersionSeries(Ring(self.retention_s, VERSION_COLUMNS))
        return series

    def _replica(self, key: ReplicaKey, now: float) -> Ring | None:
        ring = self._replicas.get(key)
        if ring is None:
            if len(self._replicas) >= self.max_replicas:
                self.refused += 1
                return None
            ring = self._replicas[key] = Ring(self.replica_retention_s, REPLICA_COLUMNS)
        return ring

    # reading
    def versions(self, namespace: str, deployment: str) -> dict[str, VersionSeries]:
        """The deployment's versions with a series, by version ("": requests refused before one was
        drawn)."""
        return {k[2]: s for k, s in self._versions.items() if k[0] == namespace and k[1] == deployment}

    def replicas(self, namespace: str, deployment: str) -> dict[str, Ring]:
        return {k[2]: r for k, r in self._replicas.items() if k[0] == namespace and k[1] == deployment}

    def deployments(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, deployment) of every series, sorted; `namespace` None: all namespaces."""
        keys = {k[:2] for k in self._versions} | {k[:2] for k in self._replicas}
        return sorted(k for k in keys if namespace is None or k[0] == namespace)

    def all_versions(self) -> Iterator[tuple[VersionKey, VersionSeries]]:
        yield from sorted(self._versions.items(), key=lambda item: item[0])

    def all_replicas(self) -> Iterator[tuple[ReplicaKey, Ring]]:
        yield from sorted(self._replicas.items(), key=lambda item: item[0])

    def buckets(
        self, namespace: str, deployment: str, column: Column, *, now: float, window_s: int
    ) -> tuple[dict[int, float], int | None]:
        """One column summed over the deployment's versions per second of the window, and the first
        second any of them was recorded: the arguments of `autoscaler.windows.window_average`
        (a level column per second is the average level of that second)."""
        summed: dict[int, float] = {}
        first: int | None = None
        for series in self.versions(namespace, deployment).values():
            ring = series.ring
            for second, value in ring.column(column, now=now, window_s=window_s).items():
                summed[second] = summed.get(second, 0.0) + value
            if ring.first is not None:
                first = ring.first if first is None else min(first, ring.first)
        return summed, first

    @property
    def series_count(self) -> tuple[int, int]:
        """(versions, replicas) kept now."""
        return len(self._versions), len(self._replicas)
