"""HPA v2's controller decision, case by case: the normalisation of horizontal.go (legacy and behavior
paths), partial metric failures, the conditions and their reasons, against the cases of
../shared/research/k8s-semantics.md §1 and Kubernetes' horizontal_test.go (named where reproduced)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.autoscaler.calculating import MetricUnavailable, Proposal
from modelplane.autoscaler.hpa import (
    Condition,
    ConditionType,
    Decision,
    Memory,
    _legacy_limits,
    combine,
    decide,
    scale_down_limit,
)
from modelplane.spec.autoscaling import Autoscaling, ScaleDownRules

T = 1_000.0


def spec(low: int = 1, high: int = 100, **behavior: Any) -> Autoscaling:
    fields: dict[str, Any] = {"minReplicas": low, "maxReplicas": high}
    if behavior:
        fields["behavior"] = behavior.get("behavior", {})
    return Autoscaling.model_validate(fields)


def wants(replicas: int, name: str = "cpu") -> list[tuple[str, Proposal | MetricUnavailable]]:
    return [(name, Proposal(replicas, 0))]


def condition(decision: Decision, kind: ConditionType) -> Condition:
    return next(c for c in decision.conditions if c.type is kind)


@pytest.mark.parametrize(
    ("current", "wanted", "low", "high", "expected", "reason"),
    [  # TestConvertDesiredReplicasWithRules, and the legacy limit max(2 x current, 4)
        (5, 7, 3, 8, 7, "DesiredWithinRange"),
        (3, 1, 2, 8, 2, "TooFewReplicas"),
        (5, 15, 3, 10, 10, "TooManyReplicas"),
        (2, 20, 1, 100, 4, "ScaleUpLimit"),
        (10, 50, 1, 100, 20, "ScaleUpLimit"),
        (1, 3, 1, 100, 3, "DesiredWithinRange"),
    ],
)
def test_legacy_limits(current: int, wanted: int, low: int, high: int, expected: int, reason: str) -> None:
    assert _legacy_limits(current, wanted, low, high)[:2] == (expected, reason)


def test_without_behavior_one_sync_at_most_doubles_or_adds_four() -> None:
    decision = decide(spec(), current=2, proposals=wants(20), memory=Memory(), now=T)
    assert (decision.replicas, decision.rescale, decision.proposal) == (4, True, 20)
    assert condition(decision, ConditionType.SCALING_LIMITED).reason == "ScaleUpLimit"
    assert condition(decision, ConditionType.ABLE_TO_SCALE).reason == "SucceededRescale"
    assert decision.events[0].message == "New size: 4; reason: cpu above target"


def test_with_default_behavior_2_to_20_gives_6() -> None:
    # max(2 + 4 pods, ceil(2 x 200%)) per 15 s
    decision = decide(spec(behavior={}), current=2, proposals=wants(20), memory=Memory(), now=T)
    assert decision.replicas == 6
    assert condition(decision, ConditionType.SCALING_LIMITED) == Condition(
        ConditionType.SCALING_LIMITED,
        True,
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )


def test_legacy_scale_down_takes_the_highest_recommendation_of_300_s() -> None:
    # {t-290: 10, t-200: 8, t: 3} -> 10 now; at t+15 the 10 is out of the window -> 8
    memory = Memory(recommendations=((T - 290, 10), (T - 200, 8)))
    decision = decide(spec(), current=10, proposals=wants(3), memory=memory, now=T)
    assert (decision.replicas, decision.rescale) == (10, False)
    assert condition(decision, ConditionType.ABLE_TO_SCALE).reason == "ScaleDownStabilized"
    later = decide(spec(), current=10, proposals=wants(3), memory=decision.memory, now=T + 15)
    assert later.replicas == 8


def test_scale_down_percent_policy_counts_from_the_period_start() -> None:
    rules = {
        "scaleDown": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
        }
    }
    hpa = spec(behavior=rules)
    first = decide(hpa, current=10, proposals=wants(1), memory=Memory(), now=T)
    assert first.replicas == 9 and first.memory.scale_downs == ((T, 1),)
    # 15 s later: periodStart = 9 + 1 = 10, limit int(10 x 0.9) = 9: no change until 60 s after
    second = decide(hpa, current=9, proposals=wants(1), memory=first.memory, now=T + 15)
    assert (second.replicas, second.rescale) == (9, False)
    assert condition(second, ConditionType.SCALING_LIMITED).reason == "ScaleDownLimit"
    third = decide(hpa, current=9, proposals=wants(1), memory=second.memory, now=T + 61)
    assert third.replicas == 8  # int(9 x 0.9)


def test_select_policy_disabled_never_scales_that_way() -> None:
    rules = ScaleDownRules.model_validate({"selectPolicy": "Disabled"})
    assert scale_down_limit(10, rules, Memory(), T) == 10
    hpa = spec(behavior={"scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}})
    decision = decide(hpa, current=10, proposals=wants(2), memory=Memory(), now=T)
    assert (decision.replicas, decision.rescale) == (10, False)


def test_select_policy_min_takes_the_smallest_change() -> None:
    rules = {
        "scaleUp": {
            "selectPolicy": "Min",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        }
    }
    decision = decide(spec(behavior=rules), current=10, proposals=wants(40), memory=Memory(), now=T)
    assert decision.replicas == 14  # min(10 + 4, 20)


def test_scale_up_window_takes_the_lowest_recent_recommendation() -> None:
    hpa = spec(behavior={"scaleUp": {"stabilizationWindowSeconds": 60}})
    memory = Memory(recommendations=((T - 30, 3),))
    decision = decide(hpa, current=3, proposals=wants(9), memory=memory, now=T)
    assert (decision.replicas, decision.rescale) == (3, False)
    assert condition(decision, ConditionType.ABLE_TO_SCALE).reason == "ScaleUpStabilized"


def test_metrics_propose_the_max() -> None:
    proposals: list[tuple[str, Proposal | MetricUnavailable]] = [
        ("cpu", Proposal(3, 0)),
        ("concurrency", Proposal(7, 0)),
        ("rps", Proposal(5, 0)),
    ]
    combined = combine(4, proposals)
    assert (combined.replicas, combined.metric) == (7, "concurrency")
    assert combined.condition.reason == "ValidMetricFound"


def test_never_scale_down_on_partial_data() -> None:
    failed = MetricUnavailable("FailedGetResourceMetric", "missing request for cpu on replica r1")
    proposals: list[tuple[str, Proposal | MetricUnavailable]] = [("cpu", failed), ("rps", Proposal(2, 0))]
    decision = decide(spec(), current=5, proposals=proposals, memory=Memory(), now=T)
    assert (decision.replicas, decision.rescale) == (5, False)
    active = condition(decision, ConditionType.SCALING_ACTIVE)
    assert (active.status, active.reason) == (False, "FailedGetResourceMetric")
    assert decision.events[0].reason == "FailedComputeMetricsReplicas" and decision.events[0].warning
    # ... but scale up on what could be read
    up: list[tuple[str, Proposal | MetricUnavailable]] = [("cpu", failed), ("rps", Proposal(8, 0))]
    assert decide(spec(), current=5, proposals=up, memory=Memory(), now=T).replicas == 8


def test_zero_replicas_with_a_minimum_disables_autoscaling() -> None:
    decision = decide(spec(low=1), current=0, proposals=wants(5), memory=Memory(), now=T)
    assert (decision.replicas, decision.rescale) == (0, False)
    assert condition(decision, ConditionType.SCALING_ACTIVE).reason == "ScalingDisabled"


@pytest.mark.parametrize(
    ("current", "expected", "reason"),
    [
        (12, 10, "Current number of replicas above Spec.MaxReplicas"),
        (1, 2, "Current number of replicas below Spec.MinReplicas"),
    ],
)
def test_outside_the_bounds_goes_to_the_bound_without_metrics(
    current: int, expected: int, reason: str
) -> None:
    decision = decide(spec(low=2, high=10), current=current, proposals=[], memory=Memory(), now=T)
    assert (decision.replicas, decision.reason) == (expected, reason)


@given(
    current=st.integers(1, 50),
    wanted=st.integers(0, 500),
    low=st.integers(1, 20),
    span=st.integers(0, 80),
    with_behavior=st.booleans(),
)
def test_the_decision_is_always_within_min_and_max(
    current: int, wanted: int, low: int, span: int, with_behavior: bool
) -> None:
    hpa = spec(low=low, high=low + span, **({"behavior": {}} if with_behavior else {}))
    decision = decide(hpa, current=current, proposals=wants(wanted), memory=Memory(), now=T)
    assert hpa.min_replicas <= decision.replicas <= hpa.max_replicas


@given(current=st.integers(1, 50), low_want=st.integers(0, 300), extra=st.integers(0, 300))
def test_more_load_never_gives_fewer_replicas(current: int, low_want: int, extra: int) -> None:
    hpa = spec(low=1, high=200, behavior={})
    low = decide(hpa, current=current, proposals=wants(low_want), memory=Memory(), now=T).replicas
    high = decide(hpa, current=current, proposals=wants(low_want + extra), memory=Memory(), now=T).replicas
    assert high >= low


def test_a_fast_path_proposal_is_only_bounded_without_behavior() -> None:
    # the legacy rules would allow 4; the fast path's 20 goes through, held to maxReplicas
    decision = decide(
        spec(high=16),
        current=2,
        proposals=wants(20, "concurrency"),
        memory=Memory(),
        now=T,
        fast=frozenset({"concurrency"}),
    )
    assert decision.replicas == 16
    assert condition(decision, ConditionType.SCALING_LIMITED).reason == "TooManyReplicas"
    # and straight down, without the 300 s window (the fast path has its own stable window)
    down = decide(
        spec(),
        current=16,
        proposals=wants(3, "concurrency"),
        memory=decision.memory,
        now=T + 1,
        fast=frozenset({"concurrency"}),
    )
    assert down.replicas == 3


def test_with_behavior_the_users_rules_apply_to_the_fast_path_too() -> None:
    decision = decide(
        spec(behavior={}),
        current=2,
        proposals=wants(20, "concurrency"),
        memory=Memory(),
        now=T,
        fast=frozenset({"concurrency"}),
    )
    assert decision.replicas == 6
