"""HPA v2's replica calculator, case by case against Kubernetes' own tests
(pkg/controller/podautoscaler/replica_calculator_test.go: the Go test each row reproduces is named) and
the cases of ../shared/research/k8s-semantics.md §1."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.autoscaler.calculating import (
    MetricUnavailable,
    Phase,
    ReplicaState,
    Sample,
    is_within,
    plain_replicas,
    resource_replicas,
)

NOW = 10_000.0
COOL = NOW - 1_000  # started long ago: past the cpu initialization period
HOT = NOW - 10  # started 10 s ago


@dataclass(frozen=True)
class R:
    """A replica row: its reading (None: missing), readiness, phase, start, deletion."""

    level: int | None
    ready: bool = True
    phase: Phase = Phase.RUNNING
    started: float = COOL
    deleting: bool = False


def states(rows: list[R]) -> list[ReplicaState]:
    return [
        ReplicaState(
            name=f"r{i}",
            phase=row.phase,
            deleting=row.deleting,
            ready=row.ready,
            started_at=row.started,
            # became ready (or turned unready) right at the start, as the Go tests' pods do
            ready_changed_at=row.started,
        )
        for i, row in enumerate(rows)
    ]


def samples(rows: list[R]) -> dict[str, Sample]:
    return {f"r{i}": Sample(row.level, at=NOW) for i, row in enumerate(rows) if row.level is not None}


def cpu(current: int, rows: list[R], target: int, request: int = 1000) -> tuple[int, int]:
    proposal = resource_replicas(
        current,
        states(rows),
        samples(rows),
        {f"r{i}": request for i in range(len(rows))},
        target_utilization=target,
        resource="cpu",
        now=NOW,
    )
    return proposal.replicas, proposal.current


def pods_metric(current: int, rows: list[R], target_milli: int) -> tuple[int, int]:
    proposal = plain_replicas(
        current, states(rows), samples(rows), target_milli=target_milli, metric="qps", now=NOW
    )
    return proposal.replicas, proposal.current


@pytest.mark.parametrize(
    ("go_test", "current", "rows", "target", "expected"),
    [
        ("TestReplicaCalcScaleUp", 3, [R(300), R(500), R(700)], 30, (5, 50)),
        ("TestReplicaCalcScaleUpUnreadyLessScale", 3, [R(300, ready=False), R(500), R(700)], 30, (4, 60)),
        ("TestReplicaCalcScaleUpHotCpuLessScale", 3, [R(300, started=HOT), R(500), R(700)], 30, (4, 60)),
        (
            "TestReplicaCalcScaleUpUnreadyNoScale",
            3,
            [R(400), R(500, ready=False), R(700, ready=False)],
            30,
            (3, 40),
        ),
        (
            "TestReplicaCalcScaleHotCpuNoScale",
            3,
            [R(400), R(500, ready=False, started=HOT), R(700, ready=False, started=HOT)],
            30,
            (3, 40),
        ),
        (
            "TestReplicaCalcScaleUpIgnoresFailedPods",
            2,
            [
                R(500),
                R(700),
                R(None, ready=False, phase=Phase.FAILED),
                R(None, ready=False, phase=Phase.FAILED),
            ],
            30,
            (4, 60),
        ),
        (
            "TestReplicaCalcScaleUpIgnoresDeletionPods",
            2,
            [R(500), R(700), R(None, ready=False, deleting=True), R(None, ready=False, deleting=True)],
            30,
            (4, 60),
        ),
        ("TestReplicaCalcScaleDown", 5, [R(100), R(300), R(500), R(250), R(250)], 50, (3, 28)),
        (
            "TestReplicaCalcScaleDownExcludeUnreadyPods",
            5,
            [R(100), R(300), R(500), R(250, ready=False), R(250, ready=False)],
            50,
            (2, 30),
        ),
        (
            "TestReplicaCalcScaleDownExcludeUnscheduledPods",
            5,
            [R(100)] + [R(None, ready=False, phase=Phase.PENDING)] * 4,
            50,
            (1, 10),
        ),
        ("TestReplicaCalcTolerance", 3, [R(1010), R(1030), R(1020)], 100, (3, 102)),
        ("TestReplicaCalcMissingMetrics", 4, [R(400), R(95), R(None), R(None)], 100, (3, 24)),
        ("TestReplicaCalcMissingMetricsNoChangeEq", 2, [R(1000), R(None)], 100, (2, 100)),
        ("TestReplicaCalcMissingMetricsNoChangeGt", 2, [R(1900), R(None)], 100, (2, 190)),
        ("TestReplicaCalcMissingMetricsNoChangeLt", 2, [R(600), R(None)], 100, (2, 60)),
        (
            "TestReplicaCalcMissingMetricsUnreadyChange",
            3,
            [R(100, ready=False), R(450), R(None)],
            50,
            (3, 45),
        ),
        (
            "TestReplicaCalcMissingMetricsHotCpuNoChange",
            3,
            [R(100, started=HOT), R(450), R(None)],
            50,
            (3, 45),
        ),
        (
            "TestReplicaCalcMissingMetricsUnreadyScaleUp",
            3,
            [R(100, ready=False), R(2000), R(None)],
            50,
            (4, 200),
        ),
        (
            "TestReplicaCalcMissingMetricsHotCpuScaleUp",
            3,
            [R(100, ready=False, started=HOT), R(2000), R(None)],
            50,
            (4, 200),
        ),
        (
            "TestReplicaCalcMissingMetricsUnreadyScaleDown",
            4,
            [R(100, ready=False), R(100), R(100), R(None)],
            50,
            (3, 10),
        ),
        (
            "TestReplicaCalcScaleDownIgnoreHotCpuPods",
            5,
            [R(100), R(300), R(500), R(250, started=HOT), R(250, started=HOT)],
            50,
            (2, 30),
        ),
        # k8s-semantics.md §1, "Must reproduce"
        ("4 at 80%, target 50", 4, [R(800)] * 4, 50, (7, 80)),
        ("10 at 54%: within", 10, [R(540)] * 10, 50, (10, 54)),
        ("10 at 56%", 10, [R(560)] * 10, 50, (12, 56)),
        ("10 at exactly 55%: the closed band", 10, [R(550)] * 10, 50, (10, 55)),
        ("one missing on a scale-down counts at its request", 3, [R(200), R(200), R(None)], 50, (3, 20)),
        (
            "pending on a scale-up flips the direction",
            4,
            [
                R(600),
                R(600),
                R(None, ready=False, phase=Phase.PENDING),
                R(None, ready=False, phase=Phase.PENDING),
            ],
            50,
            (4, 60),
        ),
    ],
)
def test_resource_utilization_as_kubernetes(
    go_test: str, current: int, rows: list[R], target: int, expected: tuple[int, int]
) -> None:
    assert cpu(current, rows, target) == expected, go_test


def test_utilization_is_truncated_to_a_whole_percent() -> None:
    # 1000m + 1000m + 999m of 3 x 1000m is 99%, not 100%
    assert cpu(3, [R(1000), R(1000), R(999)], 100)[1] == 99


@pytest.mark.parametrize(
    ("go_test", "current", "rows", "target_milli", "expected"),
    [
        ("TestReplicaCalcScaleUpCM", 3, [R(20000), R(10000), R(30000)], 15000, (4, 20000)),
        (
            "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
            3,
            [R(50000), R(10000), R(30000, ready=False, started=HOT)],
            15000,
            (6, 30000),
        ),
        (
            "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
            3,
            [R(50000, ready=False, started=HOT), R(15000), R(30000, ready=False, started=HOT)],
            15000,
            (7, 31666),
        ),
        ("TestReplicaCalcScaleDownCM", 5, [R(12000)] * 5, 20000, (3, 12000)),
        ("TestReplicaCalcToleranceCM", 3, [R(20000), R(21000), R(21000)], 20000, (3, 20666)),
    ],
)
def test_per_replica_values_as_kubernetes(
    go_test: str, current: int, rows: list[R], target_milli: int, expected: tuple[int, int]
) -> None:
    assert pods_metric(current, rows, target_milli) == expected, go_test


def test_a_replica_without_a_request_makes_the_metric_unavailable() -> None:
    rows = [R(500), R(500)]
    with pytest.raises(MetricUnavailable, match=r"missing request for cpu on replica r1") as caught:
        resource_replicas(
            2,
            states(rows),
            samples(rows),
            {"r0": 1000, "r1": None},
            target_utilization=50,
            resource="cpu",
            now=NOW,
        )
    assert caught.value.reason == "FailedGetResourceMetric"


def test_no_readings_at_all_is_unavailable_not_zero() -> None:
    rows = [R(None), R(None)]
    with pytest.raises(MetricUnavailable, match="no qps readings yet"):
        pods_metric(2, rows, 1000)


def test_the_tolerance_band_is_closed() -> None:
    assert is_within(1.1) and is_within(0.9) and is_within(55 / 50)
    assert not is_within(1.1000001) and not is_within(0.8999999)


@given(
    levels=st.lists(st.integers(0, 5000), min_size=1, max_size=20),
    target=st.integers(1, 200),
    bump=st.integers(1, 2000),
)
def test_the_proposal_never_falls_when_every_reading_rises(levels: list[int], target: int, bump: int) -> None:
    current = len(levels)
    low = cpu(current, [R(level) for level in levels], target)[0]
    high = cpu(current, [R(level + bump) for level in levels], target)[0]
    assert high >= low
