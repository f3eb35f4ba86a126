"""How good each feasible pool is for a replica — Kubernetes' score plugins, integer for integer.

- NodeResourcesFit (weight 1), over cpu and memory with weights 1 and 1, requests *including* the
  replica being placed and with zero requests counted as 100m / 200Mi:
  - LeastAllocated (default, spreads): per resource `(capacity − requested) · 100 / capacity`
    (0 when requested > capacity);
  - MostAllocated (bin-packs, e.g. GPU pools): per resource `min(requested, capacity) · 100 / capacity`;
  - a resource the pool has none of is left out of the average; `/` is integer division throughout.
  Example: 2 CPUs asked on empty pools of 4 and 8 CPUs give 50 and 75 (LeastAllocated) or 50 and 25
  (MostAllocated) for cpu.
- TaintToleration (weight 3): counts the PreferNoSchedule taints a replica does not tolerate, then
  normalises in reverse over the feasible pools: `100 − 100 · count / max count` (100 for all when no
  pool has one), so a soft taint is a penalty, never a filter.

Not modelled (constant for every local pool, or not applicable): NodeAffinity's preferred terms,
BalancedAllocation, PodTopologySpread, InterPodAffinity, ImageLocality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from modelplane.scheduler.demand import Allocation, Demand
from modelplane.scheduler.pools import Pool
from modelplane.spec import TaintEffect

MAX_SCORE = 100
RESOURCES_FIT_WEIGHT = 1
TAINT_TOLERATION_WEIGHT = 3
CPU_WEIGHT = 1
MEMORY_WEIGHT = 1


class ScoringStrategy(StrEnum):
    LEAST_ALLOCATED = "LeastAllocated"
    MOST_ALLOCATED = "MostAllocated"


def least_allocated(requested: int, capacity: int) -> int:
    """Kubernetes' leastRequestedScore: the share left free, 0–100."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_SCORE // capacity


def most_allocated(requested: int, capacity: int) -> int:
    """Kubernetes' mostRequestedScore: the share in use, capped at 100."""
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_SCORE // capacity


_SCORERS: dict[ScoringStrategy, Callable[[int, int], int]] = {
    ScoringStrategy.LEAST_ALLOCATED: least_allocated,
    ScoringStrategy.MOST_ALLOCATED: most_allocated,
}


def resources_fit_score(demand: Demand, pool: Pool, allocation: Allocation, strategy: ScoringStrategy) -> int:
    """NodeResourcesFit's score of `pool` for one more replica of `demand`."""
    scorer = _SCORERS[strategy]
    resources = (
        (allocation.scoring_cpu_millis + demand.scoring_cpu_millis, pool.capacity.cpu_millis, CPU_WEIGHT),
        (
            allocation.scoring_memory_bytes + demand.scoring_memory_bytes,
            pool.capacity.memory_bytes,
            MEMORY_WEIGHT,
        ),
    )
    weighted = [
        (scorer(requested, capacity), weight) for requested, capacity, weight in resources if capacity > 0
    ]
    weight_sum = sum(weight for _, weight in weighted)
    if weight_sum == 0:
        return 0
    return sum(score * weight for score, weight in weighted) // weight_sum


def intolerable_soft_taints(demand: Demand, pool: Pool) -> int:
    """How many PreferNoSchedule taints of `pool` the replica does not tolerate."""
    return sum(
        1
        for taint in pool.taints
        if taint.effect is TaintEffect.PREFER_NO_SCHEDULE
        and not any(toleration.tolerates(taint) for toleration in demand.tolerations)
    )


def taint_toleration_scores(counts: Sequence[int]) -> list[int]:
    """Kubernetes' DefaultNormalizeScore(100, reverse=true) of the intolerable-taint counts."""
    highest = max(counts, default=0)
    if highest == 0:
        return [MAX_SCORE for _ in counts]
    return [MAX_SCORE - MAX_SCORE * count // highest for count in counts]


def total_scores(
    demand: Demand, pools: Sequence[Pool], allocations: Sequence[Allocation], strategy: ScoringStrategy
) -> list[int]:
    """Weighted sum of the plugin scores for each of `pools` (all feasible), in the same order."""
    taint_scores = taint_toleration_scores([intolerable_soft_taints(demand, pool) for pool in pools])
    return [
        RESOURCES_FIT_WEIGHT * resources_fit_score(demand, pool, allocation, strategy)
        + TAINT_TOLERATION_WEIGHT * taint_score
        for pool, allocation, taint_score in zip(pools, allocations, taint_scores, strict=True)
    ]
