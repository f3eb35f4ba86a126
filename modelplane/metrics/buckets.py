"""1 s buckets of one series in a fixed ring (numpy), and what a time window of them says.

A `Ring` keeps the last `seconds` one-second buckets of `columns` numbers: slot `second % seconds`
holds that second's sums, and `stamps` says which second each slot holds, so a slot left over from
an older lap reads as nothing. Its memory is fixed when it is made: `seconds × columns × 8` bytes of
values plus `seconds × 8` of stamps (and ~300 bytes of object headers), however many reports arrive.

Levels (in-flight, queued, held) are recorded as level-seconds (a report's average level times the
interval it covers), so a bucket's sum is that second's average level whether one report or several
fell into it, and a window's average level is the window's sum over its seconds. Counts are summed.
The window's seconds divide as `autoscaler.windows.window_average` does (Knative's
`WindowAverage`): seconds without a report count as 0, and a series younger than the window is
averaged over the seconds it has lived.

Percentiles come from the summed histogram counts as Prometheus' `histogram_quantile` computes them:
linear within the bucket that holds the rank; a rank in the last (unbounded) bucket reads as the
highest finite bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from modelplane.autoscaler.windows import window_average
from modelplane.metrics.report import LATENCY_BOUNDS_S

Row = npt.NDArray[np.float64]


class Column(IntEnum):
    """The numbers one bucket of a version's series holds (the latency histogram follows them)."""

    REQUESTS = 0
    ERRORS = 1  # 5xx answers
    CLIENT_CLOSED = 2  # 499: the client left first
    RETRIES = 3
    LATENCY_SUM_S = 4
    INFLIGHT = 5  # level-seconds: requests at a replica × seconds
    QUEUED = 6
    HELD = 7


LATENCY = len(Column)
"""The first histogram column: LATENCY + i counts answers in bucket i of LATENCY_BOUNDS_S."""
VERSION_COLUMNS = LATENCY + len(LATENCY_BOUNDS_S) + 1


class ReplicaColumn(IntEnum):
    INFLIGHT = 0  # level-seconds
    REQUESTS = 1


REPLICA_COLUMNS = len(ReplicaColumn)


class Ring:
    """The last `seconds` 1 s buckets of one series."""

    __slots__ = ("first", "last", "seen", "stamps", "values")

    def __init__(self, seconds: int, columns: int) -> None:
        self.values: npt.NDArray[np.float64] = np.zeros((seconds, columns))
        self.stamps: npt.NDArray[np.int64] = np.full(seconds, -1, dtype=np.int64)
        self.first: int | None = None  # the second of the first recording
        self.last = -1  # the second of the latest recording
        self.seen = 0.0  # when it was last recorded (the store's clock): idle series are dropped

    @property
    def seconds(self) -> int:
        return len(self.stamps)

    def add(self, second: int, row: Row | Sequence[float], *, now: float) -> None:
        """Add `row` to `second`'s bucket (a second older than the ring holds is ignored)."""
        if second <= self.last - self.seconds:
            return
        slot = second % self.seconds
        if self.stamps[slot] != second:
            self.values[slot] = 0.0
            self.stamps[slot] = second
        self.values[slot] += row
        self.first = second if self.first is None else min(self.first, second)
        self.last = max(self.last, second)
        self.seen = max(self.seen, now)

    def bucket(self, second: int) -> Row | None:
        slot = second % self.seconds
        return self.values[slot] if self.stamps[slot] == second else None

    def window_sums(self, *, now: float, window_s: int) -> Row:
        """Each column summed over the `window_s` seconds up to `now`'s (included)."""
        last = math.floor(now)
        mask = (self.stamps > last - window_s) & (self.stamps <= last)
        return self.values[mask].sum(axis=0)  # type: ignore[no-any-return]

    def column(self, column: int, *, now: float, window_s: int) -> dict[int, float]:
        """second -> value of one column over the window, for `window_average` (seconds with data)."""
        last = math.floor(now)
        return {
            int(s): float(self.values[s % self.seconds, column])
            for s in self.stamps
            if last - window_s < s <= last
        }

    def average(self, column: int, *, now: float, window_s: int) -> float:
        """The column's average per second over the window (`window_average`'s rules)."""
        buckets = self.column(column, now=now, window_s=window_s)
        return window_average(buckets, first=self.first, now=now, window_s=window_s)


def quantile(
    q: float, counts: Sequence[float] | Row, bounds: Sequence[float] = LATENCY_BOUNDS_S
) -> float | None:
    """The q-quantile (0..1) of histogram `counts` (per bucket, not cumulative; one more than
    `bounds`), or None when it counts nothing."""
    total = float(sum(counts))
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0.0
    for i, count in enumerate(counts):
        if count > 0 and cumulative + count >= rank:
            if i >= len(bounds):
                return bounds[-1]  # the unbounded bucket: the highest bound, as Prometheus does
            lower = bounds[i - 1] if i > 0 else 0.0
            return float(lower + (bounds[i] - lower) * (rank - cumulative) / count)
        cumulative += count
    return bounds[-1]


@dataclass(frozen=True, kw_only=True)
class Summary:
    """What a window of a version's buckets says (rates and levels per second of the window)."""

    requests: int
    requests_per_s: float
    errors: int  # 5xx
    client_closed: int  # 499
    error_rate: float  # 5xx / answers, 0 without answers
    retries: int
    inflight: float
    queued: float
    held: float
    p50_s: float | None
    p99_s: float | None
    mean_s: float | None


def summarise(ring: Ring, *, now: float, window_s: int) -> Summary:
    """The window's totals, averages (`window_average`) and percentiles of one version's ring."""
    sums = ring.window_sums(now=now, window_s=window_s)
    return summary_of(sums, ring=ring, now=now, window_s=window_s)


def summary_of(
    sums: Row, *, ring: Ring | None, now: float, window_s: int, lived_from: int | None = None
) -> Summary:
    """A Summary from a window's column sums; `ring` (or `lived_from`, the first second of several
    rings summed) decides how many seconds the window counts, as `window_average` does."""
    first = ring.first if ring is not None else lived_from

    def per_second(column: int) -> float:
        value = float(sums[column])
        if value == 0:
            return 0.0
        return window_average({math.floor(now): value}, first=first, now=now, window_s=window_s)

    requests = round(sums[Column.REQUESTS])
    errors = round(sums[Column.ERRORS])
    histogram = sums[LATENCY:]
    return Summary(
        requests=requests,
        requests_per_s=per_second(Column.REQUESTS),
        errors=errors,
        client_closed=round(sums[Column.CLIENT_CLOSED]),
        error_rate=errors / requests if requests else 0.0,
        retries=round(sums[Column.RETRIES]),
        inflight=per_second(Column.INFLIGHT),
        queued=per_second(Column.QUEUED),
        held=per_second(Column.HELD),
        p50_s=quantile(0.5, histogram),
        p99_s=quantile(0.99, histogram),
        mean_s=float(sums[Column.LATENCY_SUM_S]) / requests if requests else None,
    )
