"""Which pools can take a replica, and why the others cannot — Kubernetes' filter plugins.

The filters run in kube-scheduler's order and a pool is rejected by the first that fails, with that
plugin's reason strings, word for word:

- NodeUnschedulable: a cordoned pool, unless the replica tolerates
  `node.kubernetes.io/unschedulable:NoSchedule` → `node(s) were unschedulable`
- TaintToleration: the first NoSchedule or NoExecute taint of the pool the replica does not
  tolerate → `node(s) had untolerated taint {KEY: VALUE}` (PreferNoSchedule only lowers the score)
- NodeAffinity: a nodeSelector label the pool lacks → `node(s) didn't match Pod's node affinity/selector`
- NodeResourcesFit: less free than requested, every such resource listed → `Insufficient cpu`,
  `Insufficient memory`, `Insufficient gpu` (modelplane's resource is `gpu`; Kubernetes writes
  `nvidia.com/gpu`)

A zero request never fails NodeResourcesFit (as in Kubernetes), so a replica that asks for no GPU
fits a GPU pool, and one that asks for a GPU needs a pool with that many free devices: it can never
land on a CPU-only pool. The message of a replica that fits nowhere is `FitError.Error()` with
"pools" for "nodes" in the lead: `0/2 pools are available: 1 Insufficient gpu, 1 node(s) had
untolerated taint {nvidia.com/gpu: }.` — one "COUNT REASON" per distinct reason, sorted as strings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from modelplane.scheduler.demand import Allocation, Demand
from modelplane.scheduler.pools import Pool
from modelplane.spec import Taint, TaintEffect

UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect=TaintEffect.NO_SCHEDULE)
"""The taint `kubectl cordon` implies; a replica that tolerates it may still go to a cordoned pool."""

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
_FILTERED_EFFECTS = (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE)


def untolerated_taint_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def insufficient_reason(resource: str) -> str:
    return f"Insufficient {resource}"


def free_gpus(pool: Pool, allocation: Allocation) -> list[int]:
    """The pool's devices no replica holds, ascending."""
    return [index for index in pool.gpu_devices if index not in allocation.gpu_indices]


def filter_reasons(demand: Demand, pool: Pool, allocation: Allocation) -> list[str]:
    """Why `pool` cannot take a replica of `demand`; empty when it can."""
    for reasons in (
        _node_unschedulable(demand, pool),
        _taint_toleration(demand, pool),
        _node_affinity(demand, pool),
        _resources_fit(demand, pool, allocation),
    ):
        if reasons:
            return reasons
    return []


def _tolerated(demand: Demand, taint: Taint) -> bool:
    return any(toleration.tolerates(taint) for toleration in demand.tolerations)


def _node_unschedulable(demand: Demand, pool: Pool) -> list[str]:
    if pool.unschedulable and not _tolerated(demand, UNSCHEDULABLE_TAINT):
        return [REASON_UNSCHEDULABLE]
    return []


def _taint_toleration(demand: Demand, pool: Pool) -> list[str]:
    for taint in pool.taints:
        if taint.effect in _FILTERED_EFFECTS and not _tolerated(demand, taint):
            return [untolerated_taint_reason(taint)]
    return []


def _node_affinity(demand: Demand, pool: Pool) -> list[str]:
    if all(pool.labels.get(key) == value for key, value in demand.node_selector.items()):
        return []
    return [REASON_SELECTOR]


def _resources_fit(demand: Demand, pool: Pool, allocation: Allocation) -> list[str]:
    reasons: list[str] = []
    free_cpu = pool.capacity.cpu_millis - allocation.cpu_millis
    free_memory = pool.capacity.memory_bytes - allocation.memory_bytes
    if demand.cpu_millis > 0 and demand.cpu_millis > free_cpu:
        reasons.append(insufficient_reason("cpu"))
    if demand.memory_bytes > 0 and demand.memory_bytes > free_memory:
        reasons.append(insufficient_reason("memory"))
    if demand.gpus > 0 and demand.gpus > len(free_gpus(pool, allocation)):
        reasons.append(insufficient_reason("gpu"))
    return reasons


def unschedulable_message(pool_count: int, reasons: Mapping[str, Sequence[str]]) -> str:
    """Kubernetes' FitError message over `pool_count` pools, from each rejected pool's reasons."""
    if pool_count == 0:
        return "no pools available to schedule replicas"
    histogram = Counter(reason for pool_reasons in reasons.values() for reason in pool_reasons)
    message = f"0/{pool_count} pools are available:"
    counted = sorted(f"{count} {reason}" for reason, count in histogram.items())
    if counted:
        message += f" {', '.join(counted)}."
    return message
