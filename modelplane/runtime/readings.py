"""Usage readings: each held replica's latest CPU and memory, kept in the node agent's memory.

Usage is not part of a replica's stored status (as in Kubernetes, where a Pod object carries no
usage: the kubelet measures, metrics-server keeps the readings in memory). Written into the status,
every reading was a store write — a new resourceVersion that woke every controller for a pass, made
each list of replicas decode and re-encode the replica, and made the node agent parse it again — and
at 10,000 replicas those writes held the control plane's one event loop for seconds. Here a reading
costs the runtime's measurement and a dictionary entry; the API serves the latest ones
(`GET /api/v1/usage`, read by `modelplane top`). Each reading of a deployment's replica is also queued
as a usage-history sample for `modelplane recommend`, which the node agent writes in its next batch.

Invariants:
- A replica is measured at most once every `usage_period` (5 s up to 1,000 replicas, longer past it
  so that history samples stay under `USAGE_SAMPLES_PER_S`), first as soon as it can be measured.
- After the first reading, a replica's readings fall at a fixed phase of the period, taken from a hash
  of its key: replicas that started together are measured spread over the period, not all at once.
- CPU is in millicores averaged since the previous reading; a resource nobody could measure is None.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from modelplane.runtime.cgroups import Usage
from modelplane.runtime.protocol import Key
from modelplane.spec.replica import ReplicaUsage
from modelplane.store import UsageSample

USAGE_PERIOD_S = 5.0
USAGE_SAMPLES_PER_S = 200.0
"""Each reading of a deployment's replica adds a history sample: past 1,000 replicas the period grows
so that these inserts (and the runtime's measurements) stay under this rate."""


def usage_period(replicas: int) -> float:
    """How often each replica's usage is measured, for this many replicas."""
    return max(USAGE_PERIOD_S, replicas / USAGE_SAMPLES_PER_S)


def phase_of(key: Key) -> float:
    """Where in each period the replica's readings fall, in [0, 1): a hash of its key."""
    return zlib.crc32(f"{key[0]}/{key[1]}".encode()) / 2**32


def next_reading(key: Key, *, after: float, period: float) -> float:
    """The first time past `after` at the replica's phase of `period` (pure)."""
    offset = phase_of(key) * period
    return offset + (math.floor((after - offset) / period) + 1) * period


@dataclass(frozen=True)
class _Reading:
    usage: ReplicaUsage
    cpu_seconds: float | None
    due: float


class Readings:
    """The latest reading of each measured replica, and the history samples not yet written."""

    def __init__(self) -> None:
        self._latest: dict[Key, _Reading] = {}
        self._samples: list[UsageSample] = []

    def due(self, key: Key, *, now: float) -> bool:
        """Whether the replica is to be measured now."""
        last = self._latest.get(key)
        return last is None or now >= last.due

    def record(self, key: Key, usage: Usage, *, deployment: str | None, replicas: int, now: float) -> None:
        """Keep what the runtime measured; nothing measured forgets the replica's reading (it is
        measured again at the next look). A deployment's replica also gets a history sample."""
        if usage.memory_bytes is None and usage.cpu_seconds is None:
            self._latest.pop(key, None)
            return
        last = self._latest.get(key)
        cpu_millis = None
        if last is not None and last.cpu_seconds is not None and usage.cpu_seconds is not None:
            elapsed = now - (last.usage.measured_at or now)
            if elapsed > 0:
                cpu_millis = max(int((usage.cpu_seconds - last.cpu_seconds) * 1000 / elapsed), 0)
        reading = ReplicaUsage(cpu_millis=cpu_millis, memory_bytes=usage.memory_bytes, measured_at=now)
        due = next_reading(key, after=now, period=usage_period(replicas))
        self._latest[key] = _Reading(reading, usage.cpu_seconds, due)
        if deployment:  # a Job's replica has no deployment to size
            self._samples.append(UsageSample(key[0], deployment, key[1], now, cpu_millis, usage.memory_bytes))

    def latest(self) -> dict[Key, ReplicaUsage]:
        """Each measured replica's latest reading."""
        return {key: reading.usage for key, reading in self._latest.items()}

    def forget(self, key: Key) -> None:
        self._latest.pop(key, None)

    def take_samples(self) -> list[UsageSample]:
        """The history samples recorded since the last call, oldest first; the caller writes them."""
        samples, self._samples = self._samples, []
        return samples
