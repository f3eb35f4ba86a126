"""What a load test saw, per target and per second, in bounded memory. Pure: times are arguments.

- `offer(target, second, n)`: n requests were due (their intended send time) in that second.
- `record(target, now, latency, error)`: a request ended at `now` (seconds since the start); `error` is
  None for a 200, else a short kind (`503`, `UpstreamTimeout`, ...). Served, errors and latencies count
  in the second the request *ended*, as throughput is seen from outside.
- `close(second)`: that second is over (every later `record` has a later `now`): its row is computed
  (exact p50/p99 of the second's successful latencies) and those latencies go into the run's histogram.

Latencies of failed requests are left out of the percentiles (a fast 503 must not make p99 look good);
errors are counted by kind instead. The run's histogram has log buckets 1% wide from 1 µs to 1,000 s
(`BUCKETS`; longer ones share the last), so a run of any length keeps ~17 KB per target, and its
percentiles are within 1%.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

GROWTH = 1.01
MIN_LATENCY_S = 1e-6
BUCKETS = math.ceil(math.log(1e9) / math.log(GROWTH)) + 1
_LOG_GROWTH = math.log(GROWTH)


@dataclass(frozen=True, slots=True)
class Second:
    """One second of one target."""

    t: int
    offered: int = 0
    served: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    ready: int | None = None
    desired: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "t": self.t,
            "offered": self.offered,
            "served": self.served,
            "errors": self.errors,
            "p50Ms": _round(self.p50_ms),
            "p99Ms": _round(self.p99_ms),
            "readyReplicas": self.ready,
            "desiredReplicas": self.desired,
        }


@dataclass(slots=True)
class _Open:
    """A second still being filled."""

    offered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    ready: int | None = None
    desired: int | None = None


class Histogram:
    """Counts of latencies in log buckets (HDR-like): bounded, mergeable, percentiles within 1%."""

    def __init__(self) -> None:
        self.counts = np.zeros(BUCKETS, dtype=np.int64)
        self.total = 0
        self.sum = 0.0
        self.max = 0.0

    def add(self, latencies: npt.NDArray[np.float64]) -> None:
        if not len(latencies):
            return
        clipped = np.maximum(latencies, MIN_LATENCY_S)
        index = np.minimum((np.log(clipped / MIN_LATENCY_S) / _LOG_GROWTH).astype(np.int64), BUCKETS - 1)
        self.counts += np.bincount(index, minlength=BUCKETS)
        self.total += len(latencies)
        self.sum += float(latencies.sum())
        self.max = max(self.max, float(latencies.max()))

    def percentile(self, q: float) -> float | None:
        """The latency (s) at percentile `q` (0-100): the middle of its bucket; None when empty."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(self.total * q / 100))
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank))
        if bucket == BUCKETS - 1:  # the last bucket holds everything longer: its largest is known
            return self.max
        middle = float(MIN_LATENCY_S * GROWTH ** (bucket + 0.5))
        return min(middle, self.max)

    def mean(self) -> float | None:
        return self.sum / self.total if self.total else None


class Recorder:
    """Per target: the open seconds, the closed rows, totals and the latency histogram."""

    def __init__(self, targets: int) -> None:
        self.rows: list[list[Second]] = [[] for _ in range(targets)]
        self.histograms = [Histogram() for _ in range(targets)]
        self.error_kinds: list[Counter[str]] = [Counter() for _ in range(targets)]
        self.offered = [0] * targets
        self.served = [0] * targets
        self.errors = [0] * targets
        self._open: list[dict[int, _Open]] = [{} for _ in range(targets)]
        self.closed = -1  # the last closed second

    def offer(self, target: int, second: int, count: int) -> None:
        self._at(target, second).offered += count
        self.offered[target] += count

    def record(self, target: int, now: float, latency: float, error: str | None) -> None:
        second = self._at(target, int(now))
        if error is None:
            second.latencies.append(latency)
            self.served[target] += 1
        else:
            second.errors += 1
            self.errors[target] += 1
            self.error_kinds[target][error] += 1

    def replicas(self, target: int, second: int, ready: int | None, desired: int | None) -> None:
        row = self._at(target, second)
        row.ready, row.desired = ready, desired

    def close(self, second: int) -> list[Second]:
        """Close every second up to `second`; the row of `second` for each target."""
        last: list[Second] = []
        for s in range(self.closed + 1, second + 1):
            last = [self._close(target, s) for target in range(len(self.rows))]
        self.closed = max(self.closed, second)
        return last

    def _close(self, target: int, second: int) -> Second:
        open_ = self._open[target].pop(second, None) or _Open()
        latencies = np.asarray(open_.latencies, dtype=np.float64)
        self.histograms[target].add(latencies)
        p50 = p99 = None
        if len(latencies):
            p50, p99 = (float(v) * 1000 for v in np.percentile(latencies, [50, 99]))
        row = Second(
            second,
            offered=open_.offered,
            served=len(latencies),
            errors=open_.errors,
            p50_ms=p50,
            p99_ms=p99,
            ready=open_.ready,
            desired=open_.desired,
        )
        self.rows[target].append(row)
        return row

    def _at(self, target: int, second: int) -> _Open:
        if second <= self.closed:  # a late offer or a clock that went back: the next open second
            second = self.closed + 1
        seconds = self._open[target]
        row = seconds.get(second)
        if row is None:
            row = seconds[second] = _Open()
        return row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
