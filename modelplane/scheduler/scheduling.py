"""Where one replica goes: filter the pools, score the ones that fit, pick the best — a pure decision.

`schedule(demand, pools, allocations, strategy=…, rng=…)` is kube-scheduler's cycle for one pod:
the filters of `filtering.py` (cordon, taints, nodeSelector, resources), then the scores of
`scoring.py` (NodeResourcesFit with the chosen strategy, TaintToleration), then the highest total;
ties are broken with `rng.choice` over the tied pools in the order given, so a seeded
`random.Random` makes the choice reproducible.

GPUs are whole devices, never shared and never overcommitted: a replica that requests N GPUs gets
the N lowest free device indices of the chosen pool (free = not in that pool's allocation). The
caller records the placement (`allocation.plus(demand, placement.gpu_indices)`) before scheduling
the next replica, so successive placements never hand out a device twice.

A replica that fits nowhere gets `Unschedulable` with Kubernetes' message; it stays Pending and is
tried again later. Nothing here reads the clock, the store or the environment.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from modelplane.scheduler.demand import Allocation, Demand
from modelplane.scheduler.filtering import filter_reasons, free_gpus, unschedulable_message
from modelplane.scheduler.pools import Pool
from modelplane.scheduler.scoring import ScoringStrategy, total_scores

__all__ = ["Allocation", "Demand", "Placement", "ScoringStrategy", "Unschedulable", "schedule"]


@dataclass(frozen=True)
class Placement:
    """The replica goes to `pool` and gets the GPUs `gpu_indices` (empty for a CPU-only replica)."""

    pool: str
    gpu_indices: tuple[int, ...] = ()
    scores: Mapping[str, int] = field(default_factory=dict)
    """The total score of every pool that fit, for the log line of the decision."""


@dataclass(frozen=True)
class Unschedulable:
    """No pool fits; `message` is Kubernetes' (`0/2 pools are available: …`)."""

    message: str
    pool_reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Why each pool was rejected, for `describe`."""

    reason: ClassVar[str] = "Unschedulable"


def schedule(
    demand: Demand,
    pools: Sequence[Pool],
    allocations: Mapping[str, Allocation],
    *,
    strategy: ScoringStrategy | str = ScoringStrategy.LEAST_ALLOCATED,
    rng: random.Random,
) -> Placement | Unschedulable:
    """Choose a pool for one replica of `demand`; `allocations` says what each pool already gives out."""
    strategy = ScoringStrategy(strategy)
    feasible: list[Pool] = []
    rejected: dict[str, tuple[str, ...]] = {}
    for pool in pools:
        reasons = filter_reasons(demand, pool, allocations.get(pool.name, Allocation()))
        if reasons:
            rejected[pool.name] = tuple(reasons)
        else:
            feasible.append(pool)
    if not feasible:
        return Unschedulable(unschedulable_message(len(pools), rejected), rejected)
    held = [allocations.get(pool.name, Allocation()) for pool in feasible]
    scores = total_scores(demand, feasible, held, strategy)
    best = max(scores)
    chosen = rng.choice([index for index, score in enumerate(scores) if score == best])
    pool = feasible[chosen]
    gpu_indices = tuple(free_gpus(pool, held[chosen])[: demand.gpus])
    return Placement(
        pool.name, gpu_indices, {pool.name: score for pool, score in zip(feasible, scores, strict=True)}
    )
