"""HPA v2's controller decision: from the metrics' proposals to the replica count to set, with the
conditions and events kube-controller-manager writes (pkg/controller/podautoscaler/horizontal.go).

`decide(spec, current, proposals, memory, now)` is `reconcileAutoscaler` without its I/O:
- current 0 with minReplicas > 0: autoscaling is off (ScalingActive=False, ScalingDisabled);
- current above maxReplicas or below minReplicas: straight to the bound, metrics unread;
- otherwise the highest proposal of the metrics that could be read (`combine`); when every metric
  failed, or some failed and the rest would scale down, nothing changes (never scale down on partial
  data) and ScalingActive=False carries the first failure's reason;
- then, without `behavior`, the legacy rules: the highest recommendation of the last 300 s, and at most
  max(2 x current, 4) up; with `behavior`, each direction's stabilization window (up: the lowest
  recommendation in its window, down: the highest) and its rate policies over their periods, counted
  from the replica count at the start of each period (`periodStart`), selected by selectPolicy
  (Max, Min or Disabled); always clamped to [minReplicas, maxReplicas].

What Kubernetes keeps in the controller's memory (recent recommendations, recent scale events) is the
`Memory` value passed in and returned: the caller keeps it, so the decision stays a pure function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from modelplane.autoscaler.calculating import MetricUnavailable, Proposal
from modelplane.spec.autoscaling import Autoscaling, PolicyType, ScalingRules, SelectPolicy

LEGACY_DOWNSCALE_WINDOW_S: Final = 300.0
"""--horizontal-pod-autoscaler-downscale-stabilization: the legacy path's (no `behavior`) window."""
SCALE_UP_LIMIT_FACTOR: Final = 2.0
SCALE_UP_LIMIT_MINIMUM: Final = 4
"""The legacy path's scale-up limit per sync: max(2 x current, 4)."""
_UP_STABILIZED: Final = (
    "recent recommendations were lower than current one, applying the lowest recent recommendation"
)
_DOWN_STABILIZED: Final = (
    "recent recommendations were higher than current one, applying the highest recent recommendation"
)


class ConditionType(StrEnum):
    ABLE_TO_SCALE = "AbleToScale"
    SCALING_ACTIVE = "ScalingActive"
    SCALING_LIMITED = "ScalingLimited"
    CAPACITY_LIMITED = "CapacityLimited"
    """Ours, not the HPA's: replicas asked for wait Pending for room on a node pool."""


@dataclass(frozen=True, slots=True)
class Condition:
    type: ConditionType
    status: bool
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Event:
    """An event for the deployment: `warning` False is Kubernetes' Normal type."""

    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True, slots=True)
class Memory:
    """The controller's memory of one autoscaled deployment: recommendations (time, replicas) and scale
    events (time, replicas added or removed), oldest first."""

    recommendations: tuple[tuple[float, int], ...] = ()
    scale_ups: tuple[tuple[float, int], ...] = ()
    scale_downs: tuple[tuple[float, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to set (`replicas`; equal to the current count when nothing changes) and why."""

    replicas: int
    rescale: bool
    conditions: tuple[Condition, ...]
    events: tuple[Event, ...] = ()
    reason: str = ""
    metric: str = ""
    """The metric whose proposal won (empty when none was read)."""
    proposal: int | None = None
    """The metrics' proposal before stabilization and limits (None when none was read)."""
    memory: Memory = field(default_factory=Memory)


@dataclass(frozen=True, slots=True)
class Combined:
    replicas: int | None
    metric: str
    error: MetricUnavailable | None
    condition: Condition


def combine(spec_replicas: int, proposals: Sequence[tuple[str, Proposal | MetricUnavailable]]) -> Combined:
    """`computeReplicasForMetrics`: the highest proposal; None (with the first failure's condition) when
    all failed, or when some failed and the others would go below `spec_replicas`."""
    best: tuple[str, Proposal] | None = None
    failures = [(name, p) for name, p in proposals if isinstance(p, MetricUnavailable)]
    for name, proposal in proposals:
        if isinstance(proposal, Proposal) and (best is None or proposal.replicas > best[1].replicas):
            best = (name, proposal)
    first = failures[0][1] if failures else None
    if first is not None and (best is None or best[1].replicas < spec_replicas):
        message = f"the HPA was unable to compute the replica count: {first.message}"
        condition = Condition(ConditionType.SCALING_ACTIVE, False, first.reason, message)
        return Combined(None, "", first, condition)
    assert best is not None, "combine() needs at least one metric"
    name, proposal = best
    message = f"the HPA was able to successfully calculate a replica count from {name}"
    condition = Condition(ConditionType.SCALING_ACTIVE, True, "ValidMetricFound", message)
    return Combined(proposal.replicas, name, first, condition)


def decide(
    spec: Autoscaling,
    *,
    current: int,
    proposals: Sequence[tuple[str, Proposal | MetricUnavailable]],
    memory: Memory,
    now: float,
    fast: frozenset[str] = frozenset(),
) -> Decision:
    """One sync of the HPA for a deployment at `current` replicas (see the module docstring).

    `fast` names the metrics whose proposals come from the fast path (`kpa`), already smoothed by its
    windows and limited by its rates: when one of them wins and `spec.behavior` is unset, its proposal
    is only held within [minReplicas, maxReplicas] (the legacy rules, x2 per 15 s up and a 300 s window
    down, are what makes the HPA slow to follow a spike). With `behavior` set, the user's rules apply
    to every proposal."""
    if not memory.recommendations:  # recordInitialRecommendation
        memory = replace(memory, recommendations=((now, current),))
    able = Condition(
        ConditionType.ABLE_TO_SCALE,
        True,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
    )
    if current == 0 and spec.min_replicas != 0:
        disabled = Condition(
            ConditionType.SCALING_ACTIVE,
            False,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        )
        return Decision(current, False, (able, disabled), memory=memory)
    if current > spec.max_replicas:
        return _rescaled(
            spec,
            current,
            spec.max_replicas,
            "Current number of replicas above Spec.MaxReplicas",
            (able,),
            memory,
            now,
        )
    if current < spec.min_replicas:
        return _rescaled(
            spec,
            current,
            spec.min_replicas,
            "Current number of replicas below Spec.MinReplicas",
            (able,),
            memory,
            now,
        )
    combined = combine(current, proposals)
    if combined.replicas is None:
        assert combined.error is not None
        failed = Event("FailedComputeMetricsReplicas", combined.error.message, warning=True)
        return Decision(current, False, (able, combined.condition), (failed,), memory=memory)
    wanted = combined.replicas
    reason = ""
    if wanted > current:
        reason = f"{combined.metric} above target"
    elif wanted < current:
        reason = "All metrics below target"
    if spec.behavior is None and combined.metric in fast:
        replicas, stabilized, limited = _bounded(spec, wanted)
    elif spec.behavior is None:
        replicas, stabilized, limited, memory = _normalize_legacy(spec, current, wanted, memory, now)
    else:
        replicas, stabilized, limited, memory = _normalize_with_behavior(spec, current, wanted, memory, now)
    conditions = (stabilized, combined.condition, limited)
    if replicas == current:
        return Decision(
            current, False, conditions, reason=reason, metric=combined.metric, proposal=wanted, memory=memory
        )
    decision = _rescaled(spec, current, replicas, reason, conditions, memory, now)
    return replace(decision, metric=combined.metric, proposal=wanted)


def _rescaled(
    spec: Autoscaling,
    current: int,
    replicas: int,
    reason: str,
    conditions: tuple[Condition, ...],
    memory: Memory,
    now: float,
) -> Decision:
    able = Condition(
        ConditionType.ABLE_TO_SCALE,
        True,
        "SucceededRescale",
        f"the HPA controller was able to update the target scale to {replicas}",
    )
    kept = tuple(c for c in conditions if c.type is not ConditionType.ABLE_TO_SCALE)
    event = Event("SuccessfulRescale", f"New size: {replicas}; reason: {reason}")
    if spec.behavior is not None:  # storeScaleEvent: only the behaviour path keeps scale events
        memory = _with_scale_event(spec, memory, current, replicas, now)
    return Decision(replicas, True, (able, *kept), (event,), reason=reason, memory=memory)


def _bounded(spec: Autoscaling, wanted: int) -> tuple[int, Condition, Condition]:
    """The fast path's normalisation: only [minReplicas, maxReplicas]."""
    able = Condition(
        ConditionType.ABLE_TO_SCALE, True, "ReadyForNewScale", "recommended size matches current size"
    )
    if wanted > spec.max_replicas:
        replicas, reason, message = (
            spec.max_replicas,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    elif wanted < spec.min_replicas:
        replicas, reason, message = (
            spec.min_replicas,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    else:
        replicas, reason, message = (
            wanted,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    return replicas, able, Condition(ConditionType.SCALING_LIMITED, replicas != wanted, reason, message)


# The legacy path (spec.behavior unset)


def _normalize_legacy(
    spec: Autoscaling, current: int, wanted: int, memory: Memory, now: float
) -> tuple[int, Condition, Condition, Memory]:
    """`normalizeDesiredReplicas`: the highest recommendation of the window, then the legacy limits."""
    recent = [(at, r) for at, r in memory.recommendations if at >= now - LEGACY_DOWNSCALE_WINDOW_S]
    stabilized = max([wanted, *(r for _, r in recent)])
    memory = replace(memory, recommendations=(*recent, (now, wanted)))
    if stabilized != wanted:
        able = Condition(
            ConditionType.ABLE_TO_SCALE,
            True,
            "ScaleDownStabilized",
            _DOWN_STABILIZED,
        )
    else:
        able = Condition(
            ConditionType.ABLE_TO_SCALE, True, "ReadyForNewScale", "recommended size matches current size"
        )
    replicas, reason, message = _legacy_limits(current, stabilized, spec.min_replicas, spec.max_replicas)
    limited = Condition(ConditionType.SCALING_LIMITED, replicas != stabilized, reason, message)
    return replicas, able, limited, memory


def _legacy_limits(current: int, wanted: int, low: int, high: int) -> tuple[int, str, str]:
    """`convertDesiredReplicasWithRules`."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if high > scale_up_limit:
        top, reason, message = (
            scale_up_limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        top, reason, message = (
            high,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if wanted < low:
        return low, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if wanted > top:
        return top, reason, message
    return wanted, "DesiredWithinRange", "the desired count is within the acceptable range"


# The behaviour path


def _normalize_with_behavior(
    spec: Autoscaling, current: int, wanted: int, memory: Memory, now: float
) -> tuple[int, Condition, Condition, Memory]:
    """`normalizeDesiredReplicasWithBehaviors`: stabilize, then the rate limits and the bounds."""
    assert spec.behavior is not None
    up_rules, down_rules = spec.behavior.scale_up, spec.behavior.scale_down
    up_cutoff = now - up_rules.stabilization_window_seconds
    down_cutoff = now - down_rules.stabilization_window_seconds
    up, down = wanted, wanted
    for at, recommended in memory.recommendations:
        if at > up_cutoff:
            up = min(up, recommended)
        if at > down_cutoff:
            down = max(down, recommended)
    stabilized = min(max(current, up), down)
    oldest = min(up_cutoff, down_cutoff)
    kept = tuple((at, r) for at, r in memory.recommendations if at >= oldest)
    memory = replace(memory, recommendations=(*kept, (now, wanted)))
    if stabilized != wanted:
        if wanted >= current:
            reason, message = (
                "ScaleUpStabilized",
                _UP_STABILIZED,
            )
        else:
            reason, message = (
                "ScaleDownStabilized",
                _DOWN_STABILIZED,
            )
        able = Condition(ConditionType.ABLE_TO_SCALE, True, reason, message)
    else:
        able = Condition(
            ConditionType.ABLE_TO_SCALE, True, "ReadyForNewScale", "recommended size matches current size"
        )
    replicas, reason, message = _rate_limited(spec, current, stabilized, memory, now)
    limited = Condition(ConditionType.SCALING_LIMITED, replicas != stabilized, reason, message)
    return replicas, able, limited, memory


def _rate_limited(
    spec: Autoscaling, current: int, wanted: int, memory: Memory, now: float
) -> tuple[int, str, str]:
    """`convertDesiredReplicasWithBehaviorRate`."""
    assert spec.behavior is not None
    if wanted > current:
        limit = max(current, scale_up_limit(current, spec.behavior.scale_up, memory, now))
        if spec.max_replicas > limit:
            top, reason, message = (
                limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            top, reason, message = (
                spec.max_replicas,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        if wanted > top:
            return top, reason, message
    elif wanted < current:
        limit = min(current, scale_down_limit(current, spec.behavior.scale_down, memory, now))
        if spec.min_replicas < limit:
            bottom, reason, message = (
                limit,
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            )
        else:
            bottom, reason, message = (
                spec.min_replicas,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        if wanted < bottom:
            return bottom, reason, message
    return wanted, "DesiredWithinRange", "the desired count is within the acceptable range"


def _changed_within(events: Sequence[tuple[float, int]], period: float, now: float) -> int:
    """`getReplicasChangePerPeriod`: replicas added (or removed) by the events of the last `period`."""
    return sum(change for at, change in events if at > now - period)


def scale_up_limit(current: int, rules: ScalingRules, memory: Memory, now: float) -> int:
    """`calculateScaleUpLimitWithScalingRules`: the most replicas the up policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = []
    for policy in rules.policies:
        start = (
            current
            - _changed_within(memory.scale_ups, policy.period_seconds, now)
            + _changed_within(memory.scale_downs, policy.period_seconds, now)
        )
        if policy.type is PolicyType.PODS:
            proposals.append(start + policy.value)
        else:  # rounded up, or a small deployment could never grow
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
    return min(proposals) if rules.select_policy is SelectPolicy.MIN else max(proposals)


def scale_down_limit(current: int, rules: ScalingRules, memory: Memory, now: float) -> int:
    """`calculateScaleDownLimitWithBehaviors`: the fewest replicas the down policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = []
    for policy in rules.policies:
        start = (
            current
            - _changed_within(memory.scale_ups, policy.period_seconds, now)
            + _changed_within(memory.scale_downs, policy.period_seconds, now)
        )
        if policy.type is PolicyType.PODS:
            proposals.append(start - policy.value)
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    return max(proposals) if rules.select_policy is SelectPolicy.MIN else min(proposals)


def _with_scale_event(spec: Autoscaling, memory: Memory, current: int, replicas: int, now: float) -> Memory:
    """`storeScaleEvent`: remember the change for the rate policies; forget what no period can see."""
    assert spec.behavior is not None
    longest = max(
        p.period_seconds
        for rules in (spec.behavior.scale_up, spec.behavior.scale_down)
        for p in rules.policies
    )
    ups = tuple(e for e in memory.scale_ups if e[0] > now - longest)
    downs = tuple(e for e in memory.scale_downs if e[0] > now - longest)
    if replicas > current:
        ups = (*ups, (now, replicas - current))
    else:
        downs = (*downs, (now, current - replicas))
    return replace(memory, scale_ups=ups, scale_downs=downs)
