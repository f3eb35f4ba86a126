"""Knative's autoscaler decision and its window averages, against the cases of
../shared/research/k8s-semantics.md §6 (Knative's scaling/autoscaler_test.go and
aggregation/bucketing_test.go behaviours)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.autoscaler.kpa import KpaDecision, Panic, concurrency_target, decide
from modelplane.autoscaler.windows import panic_window_s, window_average

T = 5_000.0


def tick(
    ready: int,
    stable: float,
    panic: float,
    target: float = 7,
    memory: Panic = Panic(),  # noqa: B008 (frozen)
    now: float = T,
    total: float = 10,
) -> KpaDecision:
    return decide(
        ready=ready,
        stable_value=stable,
        panic_value=panic,
        target=target,
        total_per_replica=total,
        memory=memory,
        now=now,
    )


@pytest.mark.parametrize(
    ("cc", "target", "expected"),
    [
        (10, None, (7.0, 10.0)),
        (0, None, (70.0, 100.0)),
        (10, 4, (2.8, 4.0)),
        (10, 50, (7.0, 10.0)),
        (0, 0.001, (0.01, 0.001)),
    ],
)
def test_the_target_is_70_percent_of_the_limit(
    cc: int, target: float | None, expected: tuple[float, float]
) -> None:
    got = concurrency_target(cc, target)
    assert got == pytest.approx(expected)


def test_panic_on_a_burst_with_the_burst_capacity() -> None:
    # cc=10 -> target 7; 3 ready, stable 21, panic 60: 3 and 9; 9/3 >= 2 -> panic, 9; EBC 30-211-60
    decision = tick(3, 21, 60)
    assert (decision.stable_replicas, decision.panic_replicas) == (3, 9)
    assert decision.panicking and decision.replicas == 9
    assert decision.excess_burst_capacity == -241


def test_without_a_limit_the_target_is_70() -> None:
    assert tick(1, 150, 150, target=70).replicas == 3


def test_scale_down_is_at_most_half_per_tick() -> None:
    replicas = [tick(ready, 0.5, 0.5, target=70).replicas for ready in (10, 5, 2)]
    assert replicas == [5, 2, 1]


def test_panic_never_lowers_and_ends_a_stable_window_after_the_last_burst() -> None:
    first = tick(3, 21, 60)
    assert first.replicas == 9
    calmer = tick(9, 21, 35, memory=first.memory, now=T + 2)  # 5 wanted, not over 2 x 9: still panic
    assert calmer.panicking and calmer.replicas == 9
    still = tick(9, 21, 21, memory=calmer.memory, now=T + 60)
    assert still.panicking and still.replicas == 9
    over = tick(9, 21, 21, memory=still.memory, now=T + 61)  # 60 s after the last tick over the threshold
    assert not over.panicking and over.replicas == 4  # stable 3, but at most half of 9 may go: 4


def test_any_load_asks_for_a_replica_and_none_for_zero() -> None:
    assert tick(1, 0.01, 0.01).replicas == 1
    assert tick(1, 0.0, 0.0).replicas == 0


def test_unreachable_replicas_are_not_rate_limited_down() -> None:
    decision = decide(
        ready=10,
        stable_value=0,
        panic_value=0,
        target=7,
        total_per_replica=10,
        memory=Panic(),
        now=T,
        reachable=False,
    )
    assert decision.replicas == 0


def test_window_average_counts_gaps_as_zero_and_new_series_over_their_life() -> None:
    buckets = {100: 6.0, 101: 6.0}
    assert window_average(buckets, first=100, now=101.5, window_s=60) == 6.0  # lived 2 s
    assert window_average(buckets, first=40, now=101.5, window_s=6) == 2.0  # 12 over 6 s
    assert window_average(buckets, first=100, now=200, window_s=60) == 0.0  # nothing in the window
    assert window_average({}, first=None, now=200, window_s=60) == 0.0
    assert panic_window_s(60, 10) == 6.0 and panic_window_s(6, 10) == 1.0


@given(
    ready=st.integers(0, 200),
    low=st.floats(0, 1e4, allow_nan=False),
    extra=st.floats(0, 1e4, allow_nan=False),
    target=st.floats(0.01, 1e3, allow_nan=False),
)
def test_more_load_never_asks_for_fewer_replicas(ready: int, low: float, extra: float, target: float) -> None:
    a = decide(
        ready=ready,
        stable_value=low,
        panic_value=low,
        target=target,
        total_per_replica=10,
        memory=Panic(),
        now=T,
    )
    b = decide(
        ready=ready,
        stable_value=low + extra,
        panic_value=low + extra,
        target=target,
        total_per_replica=10,
        memory=Panic(),
        now=T,
    )
    assert b.replicas >= a.replicas
