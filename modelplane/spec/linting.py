"""Risks in valid spec objects: the common mistakes a deployment can make and still be accepted.

`lint(objects)` is pure: it reads typed objects and returns `Finding`s — what is risky, on which
object and field, and the fix in one sentence. Nothing here refuses an object (validation does that);
a finding is a warning that `modelplane lint` lists and `apply` prints, kubectl-style.

Each rule looks at one ModelDeployment's spec and returns at most one risk. The rules, in the order
their findings are listed:

- no requests or limits at all (BestEffort) — reported instead of the missing memory limit;
- no memory limit;
- a memory limit more than 4× the memory request (over-committed memory);
- GPUs asked for, with neither nodeSelector nor tolerations for a GPU pool;
- more than one replica and no disruptionBudget (the drain default, maxUnavailable 1, is implicit);
- a rolling update whose maxUnavailable can take every ready replica away at once;
- batching off for a model format that batches well (simulated, onnx, torch).

(A slow readiness period is no longer a risk: readiness is probed every 50 ms until it first passes,
runtime/probing.py, so a new replica takes traffic as soon as its model has loaded.)

Other kinds have no rules yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from modelplane.spec.deployment import ModelDeployment, ModelDeploymentSpec, ModelFormat
from modelplane.spec.desired import replica_bounds
from modelplane.spec.kinds import SpecObject
from modelplane.spec.meta import DEFAULT_NAMESPACE
from modelplane.spec.quantities import format_memory
from modelplane.spec.strategy import StrategyType

MEMORY_OVERCOMMIT = 4
"""A memory limit more than this many times the request is reported."""

BATCHING_FORMATS = frozenset({ModelFormat.SIMULATED, ModelFormat.ONNX, ModelFormat.TORCH})
"""Formats whose model call costs about the same for one row as for a batch."""


class Severity(StrEnum):
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One risk on one object: `path` is the field to change, `fix` says how, in one sentence."""

    kind: str
    namespace: str
    name: str
    path: str
    message: str
    fix: str
    severity: Severity = Severity.WARNING

    @property
    def subject(self) -> str:
        """`Kind/name`, or `Kind/namespace/name` outside the default namespace (as `display_name`)."""
        if self.namespace in ("", DEFAULT_NAMESPACE):
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.subject}: {self.path}: {self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class _Risk:
    path: str
    message: str
    fix: str


_Rule = Callable[[ModelDeploymentSpec], _Risk | None]


def lint(objects: Sequence[SpecObject]) -> list[Finding]:
    """Every finding of `objects`, object by object, in rule order."""
    findings: list[Finding] = []
    for obj in objects:
        if not isinstance(obj, ModelDeployment):
            continue
        for rule in _DEPLOYMENT_RULES:
            risk = rule(obj.spec)
            if risk is not None:
                findings.append(
                    Finding(
                        kind=obj.kind,
                        namespace=obj.metadata.namespace,
                        name=obj.metadata.name,
                        path=risk.path,
                        message=risk.message,
                        fix=risk.fix,
                    )
                )
    return findings


def _best_effort(spec: ModelDeploymentSpec) -> bool:
    return spec.resources.requests.is_empty() and spec.resources.limits.is_empty()


# --- the rules ---------------------------------------------------------------------------------


def _no_resources(spec: ModelDeploymentSpec) -> _Risk | None:
    if not _best_effort(spec):
        return None
    return _Risk(
        "spec.resources",
        "no requests or limits (BestEffort): nothing is reserved for the replica, and one replica can "
        "take the machine's memory.",
        "set spec.resources.limits, e.g. {cpu: '1', memory: 1Gi}; requests default to the limits.",
    )


def _no_memory_limit(spec: ModelDeploymentSpec) -> _Risk | None:
    if spec.resources.limits.memory is not None or _best_effort(spec):
        return None
    request = spec.resources.requests.memory
    example = f"{request} (the request)" if request is not None else "1Gi"
    return _Risk(
        "spec.resources.limits.memory",
        "no memory limit: one replica can take the machine's memory.",
        f"set spec.resources.limits.memory, e.g. {example}.",
    )


def _memory_overcommitted(spec: ModelDeploymentSpec) -> _Risk | None:
    request, limit = spec.resources.requests.memory, spec.resources.limits.memory
    if request is None or limit is None or limit.bytes <= MEMORY_OVERCOMMIT * request.bytes:
        return None
    floor = format_memory(-(-limit.bytes // MEMORY_OVERCOMMIT))
    return _Risk(
        "spec.resources.requests.memory",
        f"the memory limit {limit} is more than {MEMORY_OVERCOMMIT}× the request {request}: pools fill "
        "with replicas that may not get the memory they use, and are OOM-killed under pressure.",
        f"raise spec.resources.requests.memory to a replica's real use (at least {floor}), "
        "or lower the limit.",
    )


def _gpu_without_pool(spec: ModelDeploymentSpec) -> _Risk | None:
    gpus = spec.resources.limits.gpus
    if not gpus or spec.node_selector or spec.tolerations:
        return None
    noun = "GPU" if gpus == 1 else "GPUs"
    return _Risk(
        "spec.tolerations",
        f"asks for {gpus} {noun} but has no nodeSelector or tolerations: it cannot run on a GPU pool "
        "tainted against other work, so it may stay Pending.",
        "add the GPU pool's toleration, e.g. tolerations: [{key: nvidia.com/gpu, operator: Exists}], "
        "and a nodeSelector with its labels.",
    )


def _no_disruption_budget(spec: ModelDeploymentSpec) -> _Risk | None:
    _, most = replica_bounds(spec)
    if most <= 1 or spec.disruption_budget is not None:
        return None
    replicas = f"up to {most}" if spec.autoscaling is not None else str(most)
    return _Risk(
        "spec.disruptionBudget",
        f"{replicas} replicas and no disruption budget: during drains modelplane applies a default of "
        "maxUnavailable 1.",
        "set spec.disruptionBudget, e.g. {maxUnavailable: 1} or {minAvailable: 50%}, to make the budget "
        "explicit.",
    )


def _rollout_can_empty(spec: ModelDeploymentSpec) -> _Risk | None:
    if spec.strategy.type is StrategyType.RECREATE or replica_bounds(spec)[1] == 0:
        return None
    # The fewest replicas a rollout can start from is the worst case: an int maxUnavailable is the same
    # at every size, a percentage only reaches every replica at 100%, and the fallback below is 1.
    replicas = max(replica_bounds(spec)[0], 1)
    rolling = spec.strategy.rolling_update
    surge = rolling.max_surge.scaled(replicas, round_up=True)
    unavailable = rolling.max_unavailable.scaled(replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # as Kubernetes' ResolveFenceposts: a rollout must be able to progress
    if unavailable < replicas:
        return None
    noun = "replica" if replicas == 1 else "replicas"
    fix = (
        "set spec.strategy.rollingUpdate to {maxSurge: 1, maxUnavailable: 0}: the new replica is then "
        "ready before the old one stops."
        if replicas == 1
        else f"lower spec.strategy.rollingUpdate.maxUnavailable below {replicas}, e.g. 1 or 25%."
    )
    return _Risk(
        "spec.strategy.rollingUpdate.maxUnavailable",
        f"with {replicas} {noun}, maxSurge {rolling.max_surge} and maxUnavailable {rolling.max_unavailable} "
        f"let a rollout stop {unavailable} at once: no replica may be ready to serve.",
        fix,
    )


def _batching_off(spec: ModelDeploymentSpec) -> _Risk | None:
    if spec.batching is not None or spec.model.format not in BATCHING_FORMATS:
        return None
    return _Risk(
        "spec.batching",
        f"batching is off: each request is its own {spec.model.format} model call, though a batch of "
        "many rows costs about as much as one.",
        "add spec.batching: {maxBatchSize: 32, maxLatencyMs: 5}.",
    )


_DEPLOYMENT_RULES: tuple[_Rule, ...] = (
    _no_resources,
    _no_memory_limit,
    _memory_overcommitted,
    _gpu_without_pool,
    _no_disruption_budget,
    _rollout_can_empty,
    _batching_off,
)
