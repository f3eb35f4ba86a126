"""Intended send times of an open-loop load test: the arrivals of a profile, one second at a time.

Pure: the profile and a `numpy.random.Generator` in, arrays of offsets (seconds since the start) out.
The runner sends each request at its offset and measures its latency from that offset, not from when
it actually went out, so a stalled target or a late sender shows as latency (no coordinated omission).

The rate is taken as constant over slices of `SLICE_S` (evaluated at the slice's middle), which follows
a ramp to within a slice and hits a step at a slice boundary exactly.

- constant arrivals: the k-th request goes when the integral of the rate reaches k (k = 0, 1, ...), so
  a run of `r` req/s for `d` s offers ⌈r·d⌉ requests, evenly spaced, across slices and seconds.
- Poisson arrivals: an inhomogeneous Poisson process; in each slice the count is Poisson(rate·slice)
  and the times are uniform within the slice (the order statistics of a Poisson process).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from modelplane.loadtest.profiles import Profile

SLICE_S = 0.01
Offsets = npt.NDArray[np.float64]


class Arrivals:
    """The arrivals of one profile, generated second by second (memory: one second's worth)."""

    def __init__(self, profile: Profile, *, poisson: bool, rng: np.random.Generator) -> None:
        self.profile = profile
        self.poisson = poisson
        self.rng = rng
        self._integral = 0.0  # of the rate, from 0 to the start of the next slice
        self._next = 0.0  # constant arrivals: the integral at which the next request goes
        self._second = 0

    @property
    def seconds(self) -> int:
        """How many one-second chunks the profile has (the last may be partial)."""
        return math.ceil(self.profile.duration - 1e-9)

    def next_second(self) -> Offsets:
        """Offsets in [s, s + 1) ∩ [0, duration) for the next second s, sorted."""
        second = self._second
        self._second += 1
        end = min(second + 1.0, self.profile.duration)
        slices = max(0, round((end - second) / SLICE_S))
        chunks = []
        for i in range(slices):
            start = second + i * SLICE_S
            rate = self.profile.rate_at(start + SLICE_S / 2)
            chunk = self._slice(start, rate)
            if len(chunk):
                chunks.append(chunk)
        return np.concatenate(chunks) if chunks else np.empty(0)

    def __iter__(self) -> Iterator[Offsets]:
        for _ in range(self.seconds):
            yield self.next_second()

    def _slice(self, start: float, rate: float) -> Offsets:
        if rate <= 0:
            return np.empty(0)
        if self.poisson:
            count = int(self.rng.poisson(rate * SLICE_S))
            return np.sort(start + self.rng.random(count) * SLICE_S)
        # rounded, so that float error cannot move an arrival due on a slice boundary into the slice before
        low, high = self._integral, round(self._integral + rate * SLICE_S, 9)
        self._integral = high
        if self._next >= high:
            return np.empty(0)
        marks = np.arange(self._next, high, 1.0)
        self._next += len(marks)
        return start + (marks - low) / rate


def merged(chunks: list[Offsets]) -> tuple[Offsets, npt.NDArray[np.intp]]:
    """One second of several targets' arrivals in time order: (offsets, index of the target of each)."""
    if not chunks:
        return np.empty(0), np.empty(0, dtype=np.intp)
    offsets = np.concatenate(chunks)
    owners = np.concatenate([np.full(len(c), i, dtype=np.intp) for i, c in enumerate(chunks)])
    order = np.argsort(offsets, kind="stable")
    return offsets[order], owners[order]
