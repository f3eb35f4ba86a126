"""Disruption budgets: how many replicas a drain may take away, and whether one eviction may go ahead.

Pure copies of Kubernetes, with the deployment as the budget's only controller:

- `budget_status` — pkg/controller/disruption `getExpectedPodCount`, `buildDisruptedPodMap`,
  `countHealthyPods`, `updatePdbStatus`. maxUnavailable (int or %): expected = the deployment's
  desired replicas, desiredHealthy = max(expected − ⌈maxUnavailable⌉, 0). minAvailable as an int:
  desiredHealthy = the value, expected = every replica record. minAvailable as a %: expected = desired
  replicas, desiredHealthy = ⌈pct × expected⌉. Percentages round up in both cases. currentHealthy =
  ready replicas that are not terminating and were not evicted less than 120 s ago (DeletionTimeout).
  disruptionsAllowed = currentHealthy − desiredHealthy, floored at 0, and 0 whenever expected ≤ 0.
- `decide_eviction` — pkg/registry/core/pod/storage/eviction.go. A Pending (unplaced or not started),
  terminating or finished replica is deleted without touching the budget (`canIgnorePDB`); a running
  replica that is not ready is deleted without spending budget when currentHealthy ≥ desiredHealthy > 0
  (`unhealthyPodEvictionPolicy: IfHealthyBudget`, the default); otherwise `checkAndDecrement`:
  disruptionsAllowed 0 → 429 "Cannot evict pod as it would violate the pod's disruption budget.",
  else spend one and record the replica in `disrupted` at `now`.
- `default_budget` — ours: see its docstring.

Deviations: there is no separate PDB object, so the 429-while-status-is-stale case (observedGeneration
behind) and the several-budgets 500 cannot arise. When an eviction is allowed we also lower
`current_healthy` for a ready replica at once (Kubernetes' PDB controller does so on its next pass),
so a chain of decisions on one status stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from modelplane.controllers.replicas import ReplicaFacts
from modelplane.spec.deployment import DisruptionBudget
from modelplane.spec.quantities import IntOrPercent
from modelplane.spec.replica import ReplicaPhase

DELETION_TIMEOUT = 120.0
"""Seconds an evicted replica stays out of currentHealthy while it is expected to go (DeletionTimeout)."""
DRAIN_RETRY_SECONDS = 5.0
"""How long `drain` waits after a refused eviction before trying again (kubectl drain's 5 s)."""
TOO_MANY_REQUESTS = 429
EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."

_NOT_STARTED = frozenset({ReplicaPhase.PENDING, ReplicaPhase.SCHEDULED})


def default_budget(replicas: int) -> DisruptionBudget | None:
    """The budget of a deployment that sets none: maxUnavailable 1 when it has more than one replica.

    Why: a drain then takes replicas away one at a time, waiting for each replacement to become ready
    elsewhere, so a multi-replica deployment keeps serving throughout. A single replica gets no
    budget: any budget that protected it would block a drain forever (Kubernetes' "minAvailable: 1
    with 1 replica"), so it is evicted at once and is briefly unavailable — give it a second replica,
    or set spec.disruptionBudget explicitly, to avoid that.
    """
    if replicas > 1:
        return DisruptionBudget(max_unavailable=IntOrPercent(1))
    return None


def effective_budget(budget: DisruptionBudget | None, replicas: int) -> DisruptionBudget | None:
    """spec.disruptionBudget, or `default_budget(replicas)` when the spec sets none."""
    return budget if budget is not None else default_budget(replicas)


def describe_budget(budget: DisruptionBudget, *, expected: int, desired_healthy: int) -> str:
    """The rule in words: `minAvailable is 2`, `maxUnavailable is 25% (at least 7 of 10 must stay ...)`."""
    if budget.min_available is not None:
        text = f"minAvailable is {budget.min_available}"
        if budget.min_available.percent:
            text += f" ({desired_healthy} of {expected} replicas)"
        return text
    return (
        f"maxUnavailable is {budget.max_unavailable} "
        f"(at least {desired_healthy} of {expected} must stay available)"
    )


@dataclass(frozen=True)
class BudgetStatus:
    """A budget's status (PodDisruptionBudgetStatus) for one deployment."""

    deployment: str
    namespace: str
    budget: DisruptionBudget
    expected: int
    desired_healthy: int
    current_healthy: int
    disruptions_allowed: int
    disrupted: Mapping[str, float] = field(default_factory=dict)
    """Replicas whose eviction was accepted, and when (pruned after DELETION_TIMEOUT)."""
    recheck_at: float | None = None
    """When the oldest entry of `disrupted` expires and the status must be computed again."""

    @property
    def rule(self) -> str:
        return describe_budget(self.budget, expected=self.expected, desired_healthy=self.desired_healthy)


def budget_status(
    budget: DisruptionBudget,
    *,
    deployment: str,
    namespace: str = "default",
    desired_replicas: int,
    replicas: Sequence[ReplicaFacts],
    disrupted: Mapping[str, float] | None = None,
    now: float,
) -> BudgetStatus:
    """The budget's status now; `replicas` are all replica records of the deployment."""
    expected, desired_healthy = _expected_and_desired(budget, desired_replicas, len(replicas))
    kept, recheck_at = _prune_disrupted(replicas, disrupted or {}, now=now)
    healthy = sum(
        r.ready and r.active and not (r.name in kept and kept[r.name] + DELETION_TIMEOUT > now)
        for r in replicas
    )
    allowed = healthy - desired_healthy
    if expected <= 0 or allowed <= 0:
        allowed = 0
    return BudgetStatus(
        deployment=deployment,
        namespace=namespace,
        budget=budget,
        expected=expected,
        desired_healthy=desired_healthy,
        current_healthy=healthy,
        disruptions_allowed=allowed,
        disrupted=kept,
        recheck_at=recheck_at,
    )


def _expected_and_desired(budget: DisruptionBudget, desired_replicas: int, matched: int) -> tuple[int, int]:
    """getExpectedPodCount: (expectedCount, desiredHealthy)."""
    if budget.max_unavailable is not None:
        unavailable = budget.max_unavailable.scaled(desired_replicas, round_up=True)
        return desired_replicas, max(desired_replicas - unavailable, 0)
    assert budget.min_available is not None  # the spec validates that exactly one is set
    if not budget.min_available.percent:
        return matched, budget.min_available.value
    return desired_replicas, budget.min_available.scaled(desired_replicas, round_up=True)


def _prune_disrupted(
    replicas: Sequence[ReplicaFacts], disrupted: Mapping[str, float], *, now: float
) -> tuple[dict[str, float], float | None]:
    """buildDisruptedPodMap: keep entries of live replicas whose deletion is not yet overdue."""
    kept: dict[str, float] = {}
    recheck_at: float | None = None
    for replica in replicas:
        if not replica.active or replica.name not in disrupted:
            continue
        expected_deletion = disrupted[replica.name] + DELETION_TIMEOUT
        if expected_deletion < now:
            continue  # Kubernetes records a NotDeleted warning and forgets it
        kept[replica.name] = disrupted[replica.name]
        recheck_at = expected_deletion if recheck_at is None else min(recheck_at, expected_deletion)
    return kept, recheck_at


@dataclass(frozen=True)
class Allow:
    """Evict (a graceful delete); `status` is the budget afterwards."""

    reason: str
    spends_budget: bool
    status: BudgetStatus | None


@dataclass(frozen=True)
class Refuse:
    """Do not evict now; `message` says which budget and why."""

    code: int
    message: str
    status: BudgetStatus
    retry_after: float = DRAIN_RETRY_SECONDS


EvictionDecision = Allow | Refuse


def decide_eviction(status: BudgetStatus | None, replica: ReplicaFacts, *, now: float) -> EvictionDecision:
    """Whether `replica` may be evicted under `status` (None = the deployment has no budget)."""
    if not replica.active or replica.phase in _NOT_STARTED:
        why = "it is terminating or finished" if not replica.active else "it has not started yet"
        return Allow(f"{replica.name} needs no budget: {why}", spends_budget=False, status=status)
    if status is None:
        return Allow(f"{replica.name}: no disruption budget", spends_budget=False, status=None)
    if not replica.ready and status.current_healthy >= status.desired_healthy > 0:
        reason = (
            f"{replica.name} is not ready and the budget is met "
            f"({status.current_healthy} available, {status.rule})"
        )
        return Allow(reason, spends_budget=False, status=status)
    if status.disruptions_allowed <= 0:
        return Refuse(TOO_MANY_REQUESTS, _refusal(status, replica), status)
    after = replace(
        status,
        disruptions_allowed=status.disruptions_allowed - 1,
        current_healthy=status.current_healthy - (1 if replica.ready else 0),
        disrupted={**status.disrupted, replica.name: now},
        recheck_at=_earliest(status.recheck_at, now + DELETION_TIMEOUT),
    )
    left = after.disruptions_allowed
    return Allow(
        f"{replica.name} evicted; {left} more disruption(s) allowed", spends_budget=True, status=after
    )


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _refusal(status: BudgetStatus, replica: ReplicaFacts) -> str:
    where = f"deployment {status.deployment!r} (namespace {status.namespace})"
    if replica.ready:
        why = (
            f"Evicting replica {replica.name} of {where} would leave "
            f"{status.current_healthy - 1} available, {status.rule}."
        )
    else:
        why = (
            f"Replica {replica.name} of {where} is not ready, but only {status.current_healthy} "
            f"replica(s) are available and {status.rule}, so the budget has no room for it."
        )
    return (
        f"{EVICTION_REFUSED} {why} The drain retries every {DRAIN_RETRY_SECONDS:g} s; it can go on "
        "once replacements are ready, or after scaling the deployment up."
    )
