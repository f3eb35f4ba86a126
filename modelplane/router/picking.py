"""Pure choices of the router: which version takes a request, then which replica. `rng` is an argument.

Versions (Gateway API HTTPRoute semantics, k8s-semantics §8): a version's share is weight / Σ weights
of the versions that can serve; weight 0 gets nothing. A weighted version with no serving replica is
left out and the others share its traffic (Gateway API would answer 503 for its share; during a
rollout the router would rather serve from the versions that can).

Replicas: only ready, non-terminating endpoints take requests; when a version has none, ready but
terminating ones do (KEP-1669 fallback). Among those under their concurrency limit, the least
in-flight of two random choices (power of two choices: near least-loaded at O(1), without herding).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from random import Random

from modelplane.router.table import Endpoint


def choose_version(weights: Sequence[tuple[str, int]], serving: Collection[str], rng: Random) -> str | None:
    """A version drawn by weight among those in `serving`; None when no serving version has weight."""
    if len(weights) == 1:  # the common case: one live version
        version, weight = weights[0]
        return version if weight > 0 and version in serving else None
    total = 0
    for version, weight in weights:
        if weight > 0 and version in serving:
            total += weight
    if total == 0:
        return None
    point = rng.randrange(total)
    for version, weight in weights:
        if weight > 0 and version in serving:
            if point < weight:
                return version
            point -= weight
    raise AssertionError("unreachable: the draw is below the total weight")


def serving_endpoints(endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """The endpoints that may take new requests: ready and not terminating, else ready and terminating."""
    ready = [e for e in endpoints if e.ready and not e.terminating]
    if ready:
        return ready
    return [e for e in endpoints if e.ready]


def choose_replica(
    candidates: Sequence[Endpoint],
    inflight: Callable[[Endpoint], int],
    *,
    limit: int | None,
    rng: Random,
    avoid: Collection[str] = (),
) -> Endpoint | None:
    """The least in-flight of two random candidates with a free slot; None when every one is full.

    `avoid` names replicas to skip (the one a retry comes from, or one that just refused a connection)
    unless every candidate is to be avoided. An avoided replica is not taken merely because the others
    are full: the request waits for them instead.
    """
    if avoid:
        others = [c for c in candidates if c.replica not in avoid]
        if others:
            candidates = others
    free = candidates if limit is None else [c for c in candidates if inflight(c) < limit]
    count = len(free)
    if count == 0:
        return None
    if count == 1:
        return free[0]
    first = rng.randrange(count)
    second = rng.randrange(count - 1)
    if second >= first:
        second += 1
    a, b = free[first], free[second]
    return a if inflight(a) <= inflight(b) else b
