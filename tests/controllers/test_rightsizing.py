"""Right-sizing decisions, table-driven: proposals, verdicts and the block to paste, from samples alone."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.controllers.rightsizing import Recommendation, Verdict, percentile, recommend
from modelplane.spec import ResourceRequirements
from modelplane.store import UsageSample

Mi = 1 << 20


def samples(
    cpu: list[int | None],
    memory: list[int | None] | None = None,
    *,
    replica: str = "iris-a",
    start: float = 0,
) -> list[UsageSample]:
    """One sample every 5 s (as the node agent takes them) per value."""
    memory = memory if memory is not None else [100 * Mi] * len(cpu)
    return [
        UsageSample("default", "iris", replica, start + 5 * i, c, m)
        for i, (c, m) in enumerate(zip(cpu, memory, strict=True))
    ]


def advise(resources: dict[str, Any], taken: list[UsageSample], **kw: Any) -> Recommendation:
    return recommend(
        namespace="default",
        deployment="iris",
        resources=ResourceRequirements.model_validate(resources),
        samples=taken,
        now=kw.pop("now", 1000.0),
        **kw,
    )


def row(recommendation: Recommendation, resource: str) -> dict[str, Any]:
    [found] = [r for r in recommendation.to_json()["resources"] if r["resource"] == resource]
    return dict(found)


def test_an_idle_deployment_that_asks_for_2_cpus_and_2gi_is_over_provisioned() -> None:
    taken = samples([None, 3, 5, 4, 2], [140 * Mi, 150 * Mi, 151 * Mi, 150 * Mi, 149 * Mi])
    recommendation = advise({"limits": {"cpu": "2", "memory": "2Gi"}}, taken)
    assert row(recommendation, "cpu") == {
        "resource": "cpu",
        "samples": 4,
        "windowSeconds": 15,
        "p95": "5m",
        "peak": "5m",
        "request": "2",
        "limit": "2",
        "proposedRequest": "25m",
        "proposedLimit": "50m",
        "verdict": "over-provisioned",
        "reason": "the request 2 is 80× the proposed 25m: 1975m per replica is reserved and not used",
    }
    memory = row(recommendation, "memory")
    assert (memory["peak"], memory["proposedRequest"], memory["proposedLimit"]) == ("151Mi", "250Mi", "250Mi")
    assert memory["verdict"] == "over-provisioned"
    assert memory["reason"].startswith("the request 2Gi is 8.2× the proposed 250Mi")
    assert recommendation.proposed == {
        "requests": {"cpu": "25m", "memory": "250Mi"},
        "limits": {"cpu": "50m", "memory": "250Mi"},
    }
    ResourceRequirements.model_validate(recommendation.proposed)  # valid as it is pasted
    assert (recommendation.samples, recommendation.replicas, recommendation.window_s) == (5, 1, 20)


@pytest.mark.parametrize(
    ("cpu", "proposed_request", "proposed_limit"),
    [
        ([0] * 5, "25m", "50m"),  # the floor (VPA's 25m), and a limit of twice the request
        ([10 * i for i in range(1, 21)], "220m", "440m"),  # p95 = 190m × 1.15 = 218.5 → 220m
        ([100] * 19 + [2000], "120m", "3"),  # one burst: p95 ignores it, the limit leaves room for it
        ([1000] * 5, "1150m", "2300m"),
    ],
)
def test_cpu_request_is_p95_plus_15_percent_and_the_limit_leaves_room_for_bursts(
    cpu: list[int], proposed_request: str, proposed_limit: str
) -> None:
    cpu_row = row(advise({"limits": {"cpu": "4"}}, samples(list(cpu))), "cpu")
    assert (cpu_row["proposedRequest"], cpu_row["proposedLimit"]) == (proposed_request, proposed_limit)


@pytest.mark.parametrize(
    ("peak", "proposed_request", "proposed_limit"),
    [
        (100 * Mi, "250Mi", "250Mi"),  # the floor (VPA's 250Mi)
        (1000 * Mi, "1150Mi", "1500Mi"),  # peak × 1.15; peak × 1.5
        (1000 * Mi + 1, "1151Mi", "1501Mi"),  # rounded up to whole Mi
        (4 << 30, "4711Mi", "6Gi"),
    ],
)
def test_memory_request_is_the_peak_plus_15_percent_and_the_limit_the_peak_plus_half(
    peak: int, proposed_request: str, proposed_limit: str
) -> None:
    memory_row = row(advise({}, samples([1, 1, 1], [peak // 2, peak, peak // 3])), "memory")
    assert (memory_row["proposedRequest"], memory_row["proposedLimit"]) == (proposed_request, proposed_limit)


@pytest.mark.parametrize(
    ("resources", "cpu", "memory", "expected"),
    [
        ({}, 100, 300, ("under-provisioned", "no cpu request: nothing is reserved")),
        (
            {"requests": {"cpu": "100m"}},
            150,
            300,
            ("under-provisioned", "p95 usage 150m is above the request"),
        ),
        ({"limits": {"cpu": "160m"}}, 150, 300, ("under-provisioned", "peak usage 150m is 94% of the limit")),
        (
            {"requests": {"cpu": "300m"}},
            150,
            300,
            ("ok", "the request 300m is within 2× of the proposed 180m"),
        ),
        ({"requests": {"cpu": "400m"}}, 150, 300, ("over-provisioned", "the request 400m is 2.2× the")),
    ],
)
def test_cpu_verdicts(resources: dict[str, Any], cpu: int, memory: int, expected: tuple[str, str]) -> None:
    cpu_row = row(advise(resources, samples([cpu] * 5, [memory * Mi] * 5)), "cpu")
    assert cpu_row["verdict"] == expected[0]
    assert cpu_row["reason"].startswith(expected[1]), cpu_row["reason"]


@pytest.mark.parametrize(
    ("resources", "peak", "expected"),
    [
        (
            {"requests": {"memory": "300Mi"}},
            400,
            ("under-provisioned", "peak usage 400Mi is above the request"),
        ),
        (
            {"limits": {"memory": "1Gi"}},
            950,
            ("under-provisioned", "peak usage 950Mi is 93% of the limit 1Gi"),
        ),
        ({"requests": {"memory": "1Gi"}}, 600, ("ok", "the request 1Gi is within 2× of the proposed 690Mi")),
        ({"requests": {"memory": "2Gi"}}, 600, ("over-provisioned", "the request 2Gi is 3.0× the proposed")),
    ],
)
def test_memory_verdicts(resources: dict[str, Any], peak: int, expected: tuple[str, str]) -> None:
    memory_row = row(advise(resources, samples([1] * 3, [peak * Mi] * 3)), "memory")
    assert memory_row["verdict"] == expected[0]
    assert memory_row["reason"].startswith(expected[1]), memory_row["reason"]


def test_with_too_few_samples_it_says_so_and_proposes_nothing() -> None:
    recommendation = advise({"limits": {"cpu": "2", "memory": "2Gi"}}, samples([None, 4]))
    cpu, memory = row(recommendation, "cpu"), row(recommendation, "memory")
    assert cpu["verdict"] == memory["verdict"] == "not enough data"
    assert cpu["reason"] == "not enough data: 1 sample over 0 s; let it serve for a few minutes"
    assert memory["reason"] == "not enough data: 2 samples over 5 s; let it serve for a few minutes"
    assert cpu["proposedRequest"] is None and recommendation.proposed is None
    assert (
        advise({}, []).to_json()["resources"][0]["reason"].startswith("not enough data: 0 samples over 0 s")
    )


def test_a_resource_without_data_keeps_its_current_values_and_gpus_are_kept() -> None:
    resources = {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "4Gi", "gpu": 1}}
    recommendation = advise(resources, samples([None, None, None], [1 << 30] * 3))
    assert row(recommendation, "cpu")["verdict"] == Verdict.NOT_ENOUGH_DATA
    assert recommendation.proposed == {
        "requests": {"cpu": "1", "memory": "1178Mi", "gpu": 1},
        "limits": {"cpu": "2", "memory": "1536Mi", "gpu": 1},
    }
    ResourceRequirements.model_validate(recommendation.proposed)


def test_no_cpu_limit_is_proposed_where_none_is_set() -> None:
    recommendation = advise({"requests": {"cpu": "1", "memory": "1Gi"}}, samples([100] * 4))
    assert row(recommendation, "cpu")["proposedLimit"] is None
    assert recommendation.proposed == {
        "requests": {"cpu": "120m", "memory": "250Mi"},
        "limits": {"memory": "250Mi"},
    }


def test_percentiles_are_per_replica_not_summed_over_replicas() -> None:
    taken = samples([100] * 10, replica="iris-a") + samples([300] * 10, replica="iris-b")
    recommendation = advise({"requests": {"cpu": "1"}}, taken)
    assert row(recommendation, "cpu")["proposedRequest"] == "350m"  # 300m × 1.15, not (100m + 300m) × 1.15
    assert (recommendation.samples, recommendation.replicas) == (20, 2)


def test_only_samples_inside_the_window_count() -> None:
    old = samples([2000] * 10, [3 << 30] * 10, start=0)
    recent = samples([100] * 10, [200 * Mi] * 10, start=3000)
    recommendation = advise({"limits": {"cpu": "4", "memory": "4Gi"}}, old + recent, now=3100, window_s=600)
    assert (row(recommendation, "cpu")["peak"], row(recommendation, "memory")["peak"]) == ("100m", "200Mi")
    assert recommendation.samples == 10
    everything = advise({"limits": {"cpu": "4", "memory": "4Gi"}}, old + recent, now=3100)
    assert row(everything, "cpu")["peak"] == "2"


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [([7], 95, 7), ([1, 2, 3], 95, 3), (list(range(1, 21)), 95, 19), (list(range(100, 0, -1)), 95, 95)],
)
def test_percentile_is_nearest_rank(values: list[int], percent: int, expected: int) -> None:
    assert percentile(values, percent) == expected
