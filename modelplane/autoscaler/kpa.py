"""The fast path for request metrics (in-flight requests, queue, requests per second), as Knative's
autoscaler decides (pkg/autoscaler/scaling/autoscaler.go `Scale`; defaults of config/config.go):

- desired from the stable window (60 s) and the panic window (6 s) averages: ceil(value / target),
  each clamped between the most a tick may remove (half the ready replicas: max-scale-down-rate 2) and
  add (1000 x ready);
- panic starts when the panic window asks for at least 2 x the ready replicas (panic threshold 200%),
  and is extended by every tick still over it; it ends a whole stable window after the last such tick;
- while panicking the count is the higher of the two windows and never goes down;
- no tolerance band: any load at all asks for at least one replica, none for zero (scale to zero is
  the caller's decision, after its grace period);
- the excess burst capacity (ready x per-replica capacity - target burst capacity - panic value) says
  whether a request buffer should stay in the path.

`decide(...)` takes the two window averages and the memory (`Panic`) and returns the decision and the
new memory: pure, with `now` passed in. It runs every tick (Knative: 2 s; here 1 s by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

STABLE_WINDOW_S: Final = 60.0
PANIC_WINDOW_PERCENTAGE: Final = 10.0
PANIC_THRESHOLD: Final = 2.0
"""panic-threshold-percentage 200: panic when the panic window wants twice the ready replicas."""
MAX_SCALE_UP_RATE: Final = 1000.0
MAX_SCALE_DOWN_RATE: Final = 2.0
TARGET_BURST_CAPACITY: Final = 211.0
"""Knative's default: spare in-flight capacity to keep; -1: unlimited (buffer always in the path)."""
CONCURRENCY_TARGET_DEFAULT: Final = 100.0
"""container-concurrency-target-default: per-replica in-flight requests when nothing bounds them."""
TARGET_UTILIZATION: Final = 0.7
"""container-concurrency-target-percentage 70: aim below the limit, to absorb bursts while scaling."""


def concurrency_target(container_concurrency: int, target: float | None = None) -> tuple[float, float]:
    """`ResolveMetricTarget` for concurrency: (the per-replica target, the per-replica total). The total
    is the replica's concurrency limit (100 when unlimited), or the given target, never above the limit;
    the target is 70% of it, at least 0.01."""
    total = float(container_concurrency) if container_concurrency > 0 else CONCURRENCY_TARGET_DEFAULT
    if target is not None:
        total = min(target, container_concurrency) if container_concurrency > 0 else target
    return max(0.01, total * TARGET_UTILIZATION), total


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    stable_window_s: float = STABLE_WINDOW_S
    panic_threshold: float = PANIC_THRESHOLD
    max_scale_up_rate: float = MAX_SCALE_UP_RATE
    max_scale_down_rate: float = MAX_SCALE_DOWN_RATE
    target_burst_capacity: float = TARGET_BURST_CAPACITY


@dataclass(frozen=True, slots=True)
class Panic:
    """Knative's decider memory: when panic was last (re)started, and the highest count it asked for."""

    since: float | None = None
    max_replicas: int = 0


@dataclass(frozen=True, slots=True)
class KpaDecision:
    replicas: int
    panicking: bool
    stable_replicas: int
    panic_replicas: int
    excess_burst_capacity: float
    """Negative: keep a request buffer in the path (it absorbs what the replicas cannot)."""
    memory: Panic


def decide(
    *,
    ready: int,
    stable_value: float,
    panic_value: float,
    target: float,
    total_per_replica: float,
    memory: Panic,
    now: float,
    reachable: bool = True,
    settings: Settings = Settings(),
) -> KpaDecision:
    """One tick. `stable_value`/`panic_value`: the windows' averages of the metric (summed over the
    deployment); `target`: the value one replica should carry; `total_per_replica`: what one replica
    can carry at most (for the burst capacity); `reachable`: false while no route leads to the
    replicas (then nothing is scaled down by rate)."""
    if target <= 0:
        raise ValueError(f"target must be positive, not {target}")
    counted = max(1, ready)
    max_up = math.ceil(settings.max_scale_up_rate * counted)
    max_down = math.floor(counted / settings.max_scale_down_rate) if reachable else 0
    stable_wanted = math.ceil(stable_value / target)
    panic_wanted = math.ceil(panic_value / target)
    stable_replicas = int(min(max(stable_wanted, max_down), max_up))
    panic_replicas = int(min(max(panic_wanted, max_down), max_up))
    over = panic_wanted / counted >= settings.panic_threshold
    since, top = memory.since, memory.max_replicas
    if over:
        since = now  # starts, or is extended
    elif since is not None and since + settings.stable_window_s < now:
        since, top = None, 0
    replicas = stable_replicas
    if since is not None:
        top = max(top, stable_replicas, panic_replicas)
        replicas = top
    if settings.target_burst_capacity == 0:
        excess = 0.0
    elif settings.target_burst_capacity < 0:
        excess = -1.0
    else:
        excess = math.floor(ready * total_per_replica - settings.target_burst_capacity - panic_value)
    return KpaDecision(
        replicas=replicas,
        panicking=since is not None,
        stable_replicas=stable_replicas,
        panic_replicas=panic_replicas,
        excess_burst_capacity=excess,
        memory=Panic(since, top),
    )
