"""Facts about replicas that the rollout decides on: availability, and which replica goes first.

- `is_available` — `podutil.IsPodAvailable`: ready, and (with minReadySeconds > 0) ready since strictly
  more than minReadySeconds ago. `available_at` says when a ready replica will become available, so the
  caller can look again then (the ReplicaSet controller's `AddAfter(minReadySeconds)`).
- `count_replicas` — the counts of a revision's status (`replicas`, `ready`, `available`,
  `terminating`), as the ReplicaSet controller's `calculateStatus` computes them.
- `rank_victims` — `controller.ActivePodsWithRanks` (getPodsToDelete): the order in which a shrinking
  revision deletes its replicas. Unscheduled before scheduled; Pending < Unknown < Running; not ready
  before ready; more replicas of the deployment on the same pool first; ready for less time first;
  more restarts first; newer first. Kubernetes' pod-deletion-cost annotation has no counterpart here.
  Deviation: with LogarithmicScaleDown Kubernetes compares ready and creation times in power-of-two
  buckets and breaks ties by random UID; we compare the times themselves, so the order is
  deterministic and "newer first" holds exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from modelplane.spec.replica import ReplicaPhase

_POD_PHASE_ORDINAL = {
    ReplicaPhase.PENDING: 0,
    ReplicaPhase.SCHEDULED: 0,  # bound to a pool, process not started: still a Pending pod
    "Unknown": 1,
    ReplicaPhase.STARTING: 2,  # process running, not yet started per probe: a Running pod
    ReplicaPhase.RUNNING: 2,
}


@dataclass(frozen=True)
class ReplicaFacts:
    """What the planners need to know about one replica."""

    name: str
    revision: str = ""
    phase: str = ReplicaPhase.RUNNING
    """A ReplicaPhase, or "Unknown" (the pod phase for a replica whose state cannot be read)."""
    ready: bool = False
    ready_since: float | None = None
    pool: str | None = None
    """The pool it is placed on; None = not scheduled."""
    restarts: int = 0
    created: float = 0.0
    deleting: bool = False

    @property
    def active(self) -> bool:
        """`controller.IsPodActive`: not terminating and not finished."""
        return not self.deleting and self.phase not in (ReplicaPhase.TERMINATING, ReplicaPhase.TERMINATED)


def is_available(replica: ReplicaFacts, *, min_ready_seconds: float, now: float) -> bool:
    """Ready, and ready for more than `min_ready_seconds` (IsPodAvailable)."""
    if not replica.ready:
        return False
    if min_ready_seconds == 0:
        return True
    return replica.ready_since is not None and replica.ready_since + min_ready_seconds < now


def available_at(replica: ReplicaFacts, *, min_ready_seconds: float) -> float | None:
    """When a ready replica counts as available (strictly after this instant); None if not ready."""
    if not replica.ready or replica.ready_since is None:
        return None
    return replica.ready_since + min_ready_seconds


@dataclass(frozen=True)
class ReplicaCounts:
    replicas: int
    """Active replicas (not terminating)."""
    ready: int
    available: int
    terminating: int


def count_replicas(
    replicas: Sequence[ReplicaFacts], *, min_ready_seconds: float, now: float
) -> ReplicaCounts:
    """A revision's status counts from its replicas (the ReplicaSet controller's calculateStatus)."""
    active = [r for r in replicas if r.active]
    return ReplicaCounts(
        replicas=len(active),
        ready=sum(r.ready for r in active),
        available=sum(is_available(r, min_ready_seconds=min_ready_seconds, now=now) for r in active),
        terminating=sum(not r.active and r.phase != ReplicaPhase.TERMINATED for r in replicas),
    )


def rank_victims(
    replicas: Sequence[ReplicaFacts], *, related: Sequence[ReplicaFacts] | None = None
) -> list[ReplicaFacts]:
    """`replicas` ordered deletion-first, as ActivePodsWithRanks sorts them.

    `related` are all replicas of the deployment (every revision); a replica whose pool holds more of
    them is deleted sooner, to spread the deployment across pools. Defaults to `replicas`.
    """
    pool_of = replicas if related is None else related
    on_pool = Counter(r.pool for r in pool_of if r.active and r.pool is not None)

    def key(r: ReplicaFacts) -> tuple[int, int, int, int, float, int, float]:
        ready_since = r.ready_since if r.ready and r.ready_since is not None else float("inf")
        return (
            r.pool is not None,
            _POD_PHASE_ORDINAL.get(r.phase, 0),
            r.ready,
            -on_pool[r.pool] if r.pool is not None else 0,
            -ready_since,  # ready for less time (a later ready_since) first; never-ready-time first
            -r.restarts,
            -r.created,
        )

    return sorted(replicas, key=key)


def choose_victims(
    replicas: Sequence[ReplicaFacts], count: int, *, related: Sequence[ReplicaFacts] | None = None
) -> tuple[str, ...]:
    """Names of the `count` active replicas to delete first (getPodsToDelete)."""
    active = [r for r in replicas if r.active]
    if count <= 0:
        return ()
    return tuple(r.name for r in rank_victims(active, related=related)[:count])
