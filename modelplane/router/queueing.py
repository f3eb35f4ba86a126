"""Per-replica concurrency limits and the bounded FIFO queue of one deployment.

A replica takes at most `concurrency` requests at once (`spec.concurrency`; None = no limit). When
every serving replica of the chosen version is full, the request waits in the deployment's queue,
first in first out per version (a request waits for its own version: it was pinned or drawn before it
queued). The queue holds at most `capacity` requests over all versions:
`--queue N` when given, else 2 × serving replicas × concurrency — about two rounds of work for the
deployment, which is what a replica finishing its current batch can take next. A request that finds
the queue full is refused at once (503 with Retry-After: 1) rather than waiting without bound.

The gate only counts and queues; it owns no timers and starts nothing. The proxy calls `release`
when an answer comes back and then admits the waiters `next_waiting` hands it; a waiter whose client
left is taken out with `remove` (it never takes a slot).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from modelplane.router.table import Endpoint

W = TypeVar("W")


def queue_capacity(*, serving_replicas: int, concurrency: int | None, fixed: int | None) -> int:
    """How many requests the deployment's queue may hold (0 when requests never need to wait)."""
    if fixed is not None:
        return fixed
    if concurrency is None:
        return 0
    return 2 * max(serving_replicas, 1) * concurrency


@dataclass(eq=False)
class Gate(Generic[W]):
    """In-flight counts per replica and the waiting requests per version, for one deployment."""

    concurrency: int | None
    inflight: dict[str, int] = field(default_factory=dict)  # replica name -> requests in flight
    answered: dict[str, int] = field(default_factory=dict)  # replica name -> attempts it finished
    busy_t: dict[str, float] = field(default_factory=dict)
    """replica name -> the time integral of its in-flight count as a sum of timestamps (phases.py):
    up to time T it is `busy_t + inflight × T`."""
    waiting: dict[str, deque[W]] = field(default_factory=dict)  # version -> FIFO
    queued: int = 0

    def load(self, endpoint: Endpoint) -> int:
        return self.inflight.get(endpoint.replica, 0)

    def acquire(self, replica: str, now: float) -> None:
        self.inflight[replica] = self.inflight.get(replica, 0) + 1
        self.busy_t[replica] = self.busy_t.get(replica, 0.0) - now

    def release(self, replica: str, now: float) -> None:
        self.answered[replica] = self.answered.get(replica, 0) + 1
        self.busy_t[replica] += now
        left = self.inflight[replica] - 1
        if left:
            self.inflight[replica] = left
        else:
            del self.inflight[replica]

    def offer(self, version: str, waiter: W, *, capacity: int) -> bool:
        """Queue `waiter` behind the others of its version; False when the queue is full."""
        if self.queued >= capacity:
            return False
        self.waiting.setdefault(version, deque()).append(waiter)
        self.queued += 1
        return True

    def peek(self, version: str) -> W | None:
        queue = self.waiting.get(version)
        return queue[0] if queue else None

    def pop(self, version: str) -> W:
        queue = self.waiting[version]
        waiter = queue.popleft()
        if not queue:
            del self.waiting[version]
        self.queued -= 1
        return waiter

    def remove(self, version: str, waiter: W) -> bool:
        """Take one waiter out of the queue (its client left); False when it is not there."""
        queue = self.waiting.get(version)
        if queue is None or waiter not in queue:
            return False
        queue.remove(waiter)
        if not queue:
            del self.waiting[version]
        self.queued -= 1
        return True

    def drop(self, version: str) -> list[W]:
        """Take every waiter of `version` out of the queue (its replicas are gone)."""
        queue = self.waiting.pop(version, deque())
        self.queued -= len(queue)
        return list(queue)
