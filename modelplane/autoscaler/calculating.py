"""HPA v2's replica calculator: one metric's replica proposal, as kube-controller-manager computes it.

The counterpart of pkg/controller/podautoscaler/replica_calculator.go (`GetResourceReplicas`,
`calcPlainMetricReplicas`, `groupPods`) and metrics/utilization.go. Values are integer milli-units and
utilization is truncated to a whole percent, as there, so the same inputs give the same replica count:

- replicas are grouped first (`group`): deleting or failed ones are ignored; pending ones are unready;
  for cpu only, a running one whose readiness is missing, or that is still in its first 300 s and not
  ready (or whose sample predates one metric window after its readiness changed), or that has never
  been ready, is unready too; a replica without a sample is missing; the rest are ready.
- the ratio current/target within the tolerance band (1 - 0.1 .. 1 + 0.1, closed) keeps the count.
- with no missing replicas and no unready ones pushing up, the proposal is ceil(ratio x ready).
- otherwise the gaps are filled the conservative way and the ratio computed again: a missing replica
  counts as using its request (or the target, for plain metrics) when scaling down and as 0 when scaling
  up; unready replicas count as 0, and only when scaling up. If the refilled ratio falls within the
  tolerance or flips the direction, or the refilled count moves against it, the count stays.

Pure: inputs in, a `Proposal` or a `MetricUnavailable` (never another exception) out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

TOLERANCE: Final = 0.1
"""The HPA's --horizontal-pod-autoscaler-tolerance: no change while current/target is within ±10%."""
CPU_INITIALIZATION_PERIOD_S: Final = 300.0
"""--horizontal-pod-autoscaler-cpu-initialization-period: cpu samples of young replicas are suspect."""
INITIAL_READINESS_DELAY_S: Final = 30.0
"""--horizontal-pod-autoscaler-initial-readiness-delay: readiness flapping this soon after start counts
as never having been ready."""


class Phase(StrEnum):
    """A replica's phase as the calculator sees it (Kubernetes' pod phases that matter here)."""

    PENDING = "Pending"
    RUNNING = "Running"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaState:
    """What the calculator needs to know of one replica of the scaled deployment."""

    name: str
    phase: Phase
    deleting: bool = False
    ready: bool | None = None
    """The Ready condition; None: the replica has none yet."""
    started_at: float | None = None
    ready_changed_at: float | None = None
    """When the Ready condition last changed (its lastTransitionTime)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One replica's reading, in milli-units (cpu: millicores; memory: bytes x 1000; others: value x 1000),
    taken at `at` over the `window` seconds before it."""

    milli: int
    at: float
    window: float = 60.0


@dataclass(frozen=True, slots=True)
class Groups:
    ready: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A metric's replica count and the current value it was computed from: the utilization in % for
    resource metrics, the average per replica in milli-units for the others."""

    replicas: int
    current: int


class MetricUnavailable(Exception):
    """The metric cannot give a proposal now; `reason` is Kubernetes' ScalingActive=False reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def is_within(ratio: float, tolerance: float = TOLERANCE) -> bool:
    """Whether `ratio` (current / target) is inside the closed tolerance band: no change then."""
    return 1.0 - tolerance <= ratio <= 1.0 + tolerance


def group(
    replicas: Sequence[ReplicaState], samples: Mapping[str, Sample], *, cpu: bool, now: float
) -> Groups:
    """Sort replicas as `groupPods` does (see the module docstring)."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for replica in replicas:
        if replica.deleting or replica.phase is Phase.FAILED:
            ignored.add(replica.name)
            continue
        if replica.phase is Phase.PENDING:
            unready.add(replica.name)
            continue
        sample = samples.get(replica.name)
        if sample is None:
            missing.add(replica.name)
            continue
        if cpu and _cpu_unready(replica, sample, now):
            unready.add(replica.name)
            continue
        ready += 1
    return Groups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(replica: ReplicaState, sample: Sample, now: float) -> bool:
    if replica.ready is None or replica.started_at is None or replica.ready_changed_at is None:
        return True
    if now < replica.started_at + CPU_INITIALIZATION_PERIOD_S:
        # young: its sample counts once it is ready and a whole window has passed since it turned so
        return not replica.ready or sample.at < replica.ready_changed_at + sample.window
    # older: ignored only if it is not ready and never was (it turned unready right at the start)
    return not replica.ready and replica.ready_changed_at < replica.started_at + INITIAL_READINESS_DELAY_S


def resource_replicas(
    current: int,
    replicas: Sequence[ReplicaState],
    usage: Mapping[str, Sample],
    requests: Mapping[str, int | None],
    *,
    target_utilization: int,
    resource: str,
    now: float,
    tolerance: float = TOLERANCE,
) -> Proposal:
    """Replicas for a Resource metric with a utilization target (% of the request), as
    `GetResourceReplicas`. `requests` are in the same milli-units as `usage`; a replica without one
    makes the metric unavailable (the HPA never guesses)."""
    if not replicas:
        raise MetricUnavailable(
            "FailedGetResourceMetric", "no replicas of the deployment while calculating the replica count"
        )
    groups = group(replicas, usage, cpu=resource == "cpu", now=now)
    for replica in replicas:
        if replica.name in groups.ignored:
            continue
        if requests.get(replica.name) is None:
            raise MetricUnavailable(
                "FailedGetResourceMetric",
                f"missing request for {resource} on replica {replica.name}: set "
                f"spec.resources.requests.{resource}, or scale on another metric",
            )
    counted = {
        name: sample.milli
        for name, sample in usage.items()
        if name not in groups.ignored and name not in groups.unready and name in requests
    }
    if not counted:
        raise MetricUnavailable(
            "FailedGetResourceMetric", f"no {resource} readings yet from any ready replica"
        )
    request_of = {name: requests[name] or 0 for name in requests}
    ratio, utilization = _utilization_ratio(counted, request_of, target_utilization)
    fill_missing = {name: request_of[name] * max(100, target_utilization) // 100 for name in groups.missing}
    replicas_out = _refilled(
        current,
        ratio,
        counted,
        groups,
        missing_when_down=fill_missing,
        recompute=lambda values: _utilization_ratio(values, request_of, target_utilization)[0],
        tolerance=tolerance,
    )
    return Proposal(replicas_out, utilization)


def plain_replicas(
    current: int,
    replicas: Sequence[ReplicaState],
    values: Mapping[str, Sample],
    *,
    target_milli: int,
    metric: str,
    now: float,
    tolerance: float = TOLERANCE,
) -> Proposal:
    """Replicas for a per-replica AverageValue metric (concurrency, rps, a custom series), as
    `calcPlainMetricReplicas`."""
    if not replicas:
        raise MetricUnavailable(
            "FailedGetPodsMetric", "no replicas of the deployment while calculating the replica count"
        )
    groups = group(replicas, values, cpu=False, now=now)
    counted = {
        name: sample.milli
        for name, sample in values.items()
        if name not in groups.ignored and name not in groups.unready
    }
    if not counted:
        raise MetricUnavailable("FailedGetPodsMetric", f"no {metric} readings yet from any ready replica")
    ratio, average = _average_ratio(counted, target_milli)
    replicas_out = _refilled(
        current,
        ratio,
        counted,
        groups,
        missing_when_down=dict.fromkeys(groups.missing, target_milli),
        recompute=lambda filled: _average_ratio(filled, target_milli)[0],
        tolerance=tolerance,
    )
    return Proposal(replicas_out, average)


def _refilled(
    current: int,
    ratio: float,
    counted: Mapping[str, int],
    groups: Groups,
    *,
    missing_when_down: Mapping[str, int],
    recompute: Callable[[Mapping[str, int]], float],
    tolerance: float,
) -> int:
    """The shared tail of both calculators: plain proposal, or refill the gaps and re-check."""
    rebalance_unready = bool(groups.unready) and ratio > 1.0
    if not rebalance_unready and not groups.missing:
        if is_within(ratio, tolerance):
            return current
        return math.ceil(ratio * groups.ready)
    filled = dict(counted)
    if ratio < 1.0:
        filled.update(missing_when_down)
    elif ratio > 1.0:
        filled.update(dict.fromkeys(groups.missing, 0))
    if rebalance_unready:
        filled.update(dict.fromkeys(groups.unready, 0))
    new_ratio = recompute(filled)
    if is_within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    proposal = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current
    return proposal


def _utilization_ratio(
    usage: Mapping[str, int], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int]:
    """metrics/utilization.go GetResourceUtilizationRatio: the whole-percent utilization over the
    replicas with a reading, and its ratio to the target."""
    used = sum(usage.values())
    requested = sum(requests.get(name, 0) for name in usage)
    if requested == 0:
        raise MetricUnavailable("FailedGetResourceMetric", "no request to compare the usage with")
    utilization = used * 100 // requested
    return utilization / target_utilization, utilization


def _average_ratio(values: Mapping[str, int], target_milli: int) -> tuple[float, int]:
    """metrics/utilization.go GetMetricUsageRatio: the integer average per replica and its ratio."""
    average = sum(values.values()) // len(values)
    return average / target_milli, average
