"""Averages over time windows of 1 s buckets, as Knative's autoscaler reads its metrics
(pkg/autoscaler/aggregation/bucketing.go `TimedFloat64Buckets.WindowAverage`).

A second with no reading counts as 0 (nothing was in flight). Until a whole window has passed since
the first reading, the average is over the seconds since that reading, so a new deployment is not
judged on a window it did not live through. With no reading in the window at all the average is 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def window_average(buckets: Mapping[int, float], *, first: int | None, now: float, window_s: float) -> float:
    """The average per second over the `window_s` seconds up to `now` (whole seconds, `now`'s
    included) of `buckets` (second -> the reading of that second); `first`: the second of the first
    reading ever made (None: none yet)."""
    if first is None or window_s <= 0:
        return 0.0
    last = math.floor(now)
    seconds = max(1, round(window_s))
    start = last - seconds + 1
    total = sum(value for second, value in buckets.items() if start <= second <= last)
    if total == 0:
        return 0.0
    lived = last - first + 1
    return total / max(1, min(seconds, lived))


def panic_window_s(stable_window_s: float, panic_window_percentage: float) -> float:
    """Knative's panic window: a share of the stable one, at least 1 s (60 s x 10% = 6 s)."""
    return max(1.0, round(stable_window_s * panic_window_percentage / 100))
