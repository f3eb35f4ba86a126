"""Disruption budgets and eviction: Kubernetes' PDB arithmetic (k8s-semantics §4) on pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.controllers.disruption import (
    DELETION_TIMEOUT,
    DRAIN_RETRY_SECONDS,
    EVICTION_REFUSED,
    Allow,
    BudgetStatus,
    Refuse,
    budget_status,
    decide_eviction,
    default_budget,
    effective_budget,
)
from modelplane.controllers.replicas import ReplicaFacts
from modelplane.spec.deployment import DisruptionBudget
from modelplane.spec.quantities import IntOrPercent
from modelplane.spec.replica import ReplicaPhase


def ready(name: str) -> ReplicaFacts:
    return ReplicaFacts(name, phase=ReplicaPhase.RUNNING, ready=True, ready_since=0.0, pool="cpu")


def not_ready(name: str) -> ReplicaFacts:
    return ReplicaFacts(name, phase=ReplicaPhase.RUNNING, ready=False, pool="cpu")


def min_available(value: int | str) -> DisruptionBudget:
    return DisruptionBudget(min_available=IntOrPercent.parse(value))


def max_unavailable(value: int | str) -> DisruptionBudget:
    return DisruptionBudget(max_unavailable=IntOrPercent.parse(value))


def status_of(
    budget: DisruptionBudget,
    replicas: list[ReplicaFacts],
    *,
    desired: int | None = None,
    disrupted: dict[str, float] | None = None,
    now: float = 1000.0,
) -> BudgetStatus:
    return budget_status(
        budget,
        deployment="web",
        namespace="production",
        desired_replicas=len(replicas) if desired is None else desired,
        replicas=replicas,
        disrupted=disrupted,
        now=now,
    )


def counts(status: BudgetStatus) -> tuple[int, int, int, int]:
    return (status.expected, status.desired_healthy, status.current_healthy, status.disruptions_allowed)


# --- §4 Must reproduce ----------------------------------------------------------------------------


def test_10_replicas_max_unavailable_25pct_rounds_up_to_3_desired_7_fourth_concurrent_eviction_gets_429() -> (
    None
):
    replicas = [ready(f"r{i}") for i in range(10)]
    status = status_of(max_unavailable("25%"), replicas)
    assert counts(status) == (10, 7, 10, 3)
    decisions = []
    current: BudgetStatus | None = status
    for replica in replicas[:4]:
        assert current is not None
        decision = decide_eviction(current, replica, now=1000.0)
        decisions.append(decision)
        current = decision.status
    assert [type(d) for d in decisions] == [Allow, Allow, Allow, Refuse]
    refused = decisions[3]
    assert isinstance(refused, Refuse) and refused.code == 429
    assert refused.message.startswith(EVICTION_REFUSED)
    assert (
        "would leave 6 available, maxUnavailable is 25% (at least 7 of 10 must stay available)"
        in refused.message
    )


@pytest.mark.parametrize(
    ("value", "desired_healthy", "allowed"),
    [("50%", 2, 1), ("67%", 3, 0)],
)
def test_3_replicas_min_available_50pct_allows_1_and_67pct_allows_0(
    value: str, desired_healthy: int, allowed: int
) -> None:
    status = status_of(min_available(value), [ready("a"), ready("b"), ready("c")])
    assert counts(status) == (3, desired_healthy, 3, allowed)


def test_1_replica_min_available_1_drain_retries_every_5s_forever_max_unavailable_1_evicts_at_once() -> None:
    replica = ready("only")
    for now in (0.0, 5.0, 10.0, 3600.0):
        decision = decide_eviction(status_of(min_available(1), [replica], now=now), replica, now=now)
        assert isinstance(decision, Refuse)
        assert decision.retry_after == DRAIN_RETRY_SECONDS == 5.0
        assert "would leave 0 available, minAvailable is 1" in decision.message
    status = status_of(max_unavailable(1), [replica])
    assert counts(status) == (1, 0, 1, 1)
    assert isinstance(decide_eviction(status, replica, now=0.0), Allow)


def test_min_available_2_int_with_3_matched_one_not_ready_has_healthy_2_and_allows_0() -> None:
    replicas = [ready("a"), ready("b"), not_ready("sick")]
    status = status_of(min_available(2), replicas)
    assert counts(status) == (3, 2, 2, 0)
    refused = decide_eviction(status, replicas[0], now=0.0)
    assert isinstance(refused, Refuse)
    where = "deployment 'web' (namespace production)"
    assert f"Evicting replica a of {where} would leave 1 available, minAvailable is 2." in refused.message
    # The not-ready one may still go: the budget is met without it (IfHealthyBudget), nothing is spent.
    sick = decide_eviction(status, replicas[2], now=0.0)
    assert isinstance(sick, Allow) and not sick.spends_budget and sick.status == status


def test_after_an_eviction_is_accepted_the_replica_is_not_healthy_for_up_to_120s() -> None:
    replicas = [ready("a"), ready("b"), ready("c")]
    status = status_of(max_unavailable(1), replicas, now=0.0)
    evicted = decide_eviction(status, replicas[0], now=0.0)
    assert isinstance(evicted, Allow) and evicted.spends_budget and evicted.status is not None
    assert evicted.status.disrupted == {"a": 0.0}
    assert counts(evicted.status) == (3, 2, 2, 0)
    for now, healthy in [(1.0, 2), (119.0, 2), (119.999, 2), (DELETION_TIMEOUT, 3), (121.0, 3)]:
        later = status_of(max_unavailable(1), replicas, disrupted=dict(evicted.status.disrupted), now=now)
        assert later.current_healthy == healthy, now
    recomputed = status_of(max_unavailable(1), replicas, disrupted={"a": 0.0}, now=30.0)
    assert recomputed.recheck_at == DELETION_TIMEOUT
    assert status_of(max_unavailable(1), replicas, disrupted={"a": 0.0}, now=121.0).disrupted == {}


@pytest.mark.parametrize("phase", [ReplicaPhase.PENDING, ReplicaPhase.SCHEDULED])
def test_a_pending_replica_is_always_evictable(phase: ReplicaPhase) -> None:
    only = ready("only")
    status = status_of(min_available(1), [only])
    assert status.disruptions_allowed == 0
    pending = ReplicaFacts("new", phase=phase, pool=None if phase is ReplicaPhase.PENDING else "cpu")
    decision = decide_eviction(status, pending, now=0.0)
    assert isinstance(decision, Allow) and not decision.spends_budget


# --- Further rules --------------------------------------------------------------------------------


def test_expected_zero_allows_nothing() -> None:
    status = status_of(min_available("50%"), [ready("a"), ready("b")], desired=0)
    assert counts(status) == (0, 0, 2, 0)


def test_max_unavailable_counts_against_desired_replicas_not_matched_ones() -> None:
    status = status_of(max_unavailable(1), [ready("a"), ready("b")], desired=4)
    assert counts(status) == (4, 3, 2, 0)


def test_terminating_replicas_are_evicted_without_budget_and_do_not_count_as_healthy() -> None:
    leaving = ReplicaFacts("leaving", phase=ReplicaPhase.TERMINATING, ready=True, pool="cpu")
    status = status_of(min_available(2), [ready("a"), ready("b"), leaving])
    assert status.current_healthy == 2
    decision = decide_eviction(status, leaving, now=0.0)
    assert isinstance(decision, Allow) and not decision.spends_budget


def test_a_not_ready_replica_spends_budget_when_the_budget_is_short() -> None:
    replicas = [ready("a"), not_ready("sick"), not_ready("sicker")]
    status = status_of(min_available(2), replicas)
    assert counts(status) == (3, 2, 1, 0)
    refused = decide_eviction(status, replicas[1], now=0.0)
    assert isinstance(refused, Refuse)
    assert "sick of deployment 'web' (namespace production) is not ready" in refused.message


def test_no_budget_means_a_plain_delete() -> None:
    decision = decide_eviction(None, ready("a"), now=0.0)
    assert isinstance(decision, Allow) and not decision.spends_budget


@pytest.mark.parametrize(
    ("replicas", "expected"), [(0, None), (1, None), (2, max_unavailable(1)), (10, max_unavailable(1))]
)
def test_default_budget_is_max_unavailable_1_for_more_than_one_replica(
    replicas: int, expected: DisruptionBudget | None
) -> None:
    assert default_budget(replicas) == expected
    assert effective_budget(None, replicas) == expected
    assert effective_budget(min_available(1), replicas) == min_available(1)


def test_default_budget_drains_a_two_replica_deployment_one_at_a_time() -> None:
    budget = effective_budget(None, 2)
    assert budget is not None
    replicas = [ready("a"), ready("b")]
    first = decide_eviction(status_of(budget, replicas), replicas[0], now=0.0)
    assert isinstance(first, Allow) and first.status is not None
    second = decide_eviction(first.status, replicas[1], now=0.0)
    assert (
        isinstance(second, Refuse)
        and "maxUnavailable is 1 (at least 1 of 2 must stay available)" in second.message
    )


def test_the_spec_defaults_table_states_the_default_budget_and_that_it_differs() -> None:
    # docs/spec.md once said `disruptionBudget: none` while the code defaults to maxUnavailable 1
    table = (Path(__file__).parents[2] / "docs" / "spec.md").read_text()
    (row,) = [line for line in table.splitlines() if line.startswith("| | ") and "`disruptionBudget`" in line]
    field, default, k8s = (cell.strip() for cell in row.split("|")[2:5])
    assert field == "**`disruptionBudget`**"  # bold: differs from Kubernetes
    assert "maxUnavailable 1" in default and "none" in default  # more than one replica / a single one
    assert "no PDB" in k8s
    assert default_budget(2) == DisruptionBudget(max_unavailable=IntOrPercent(1))
    assert default_budget(1) is None
