"""schedule(): Kubernetes' filters, messages and scores on pools; whole GPUs; seeded tie-breaks."""

from __future__ import annotations

import random
from typing import Any

import pytest

from modelplane.scheduler import (
    Allocation,
    Capacity,
    Demand,
    Placement,
    Pool,
    ScoringStrategy,
    Unschedulable,
    allocations_of,
    cuda_visible_devices,
    gpu_environment,
    least_allocated,
    most_allocated,
    resources_fit_score,
    schedule,
    taint_toleration_scores,
    tally,
)
from modelplane.spec import ModelDeployment, ResourceRequirements, Taint, Toleration, load_text
from modelplane.spec.replica import Replica, ReplicaPhase

GIB = 2**30
MIB = 2**20
GPU_TAINT = Taint.model_validate({"key": "nvidia.com/gpu", "effect": "NoSchedule"})
GPU_TOLERATION = Toleration.model_validate({"key": "nvidia.com/gpu", "operator": "Exists"})


def pool(name: str, cpus: float = 8, memory_gib: int = 32, gpus: tuple[int, ...] = (), **kw: Any) -> Pool:
    labels = {"modelplane.dev/pool": name, **kw.pop("labels", {})}
    capacity = Capacity(int(cpus * 1000), memory_gib * GIB, len(gpus))
    return Pool(name, capacity, gpus, labels, **kw)


def taint(key: str, effect: str, value: str = "") -> Taint:
    return Taint.model_validate({"key": key, "value": value, "effect": effect})


def demand(cpu: str | None = None, memory: str | None = None, gpu: int | None = None, **kw: Any) -> Demand:
    limits = {k: v for k, v in {"cpu": cpu, "memory": memory, "gpu": gpu}.items() if v is not None}
    return Demand.of(ResourceRequirements.model_validate({"limits": limits}), **kw)


def place(
    d: Demand,
    pools: list[Pool],
    allocations: dict[str, Allocation] | None = None,
    *,
    strategy: str = "LeastAllocated",
    seed: int = 0,
) -> Placement | Unschedulable:
    return schedule(d, pools, allocations or {}, strategy=strategy, rng=random.Random(seed))


def message(decision: Placement | Unschedulable) -> str:
    assert isinstance(decision, Unschedulable), decision
    return decision.message


# --- Must reproduce (k8s-semantics §5) ---------------------------------------------------------


def test_gpu_replica_stays_pending_when_every_gpu_is_taken_and_never_lands_on_a_cpu_pool() -> None:
    pools = [pool("local", cpus=16), pool("gpu", gpus=(0,), taints=(GPU_TAINT,))]
    gpu_demand = demand(cpu="1", gpu=1, tolerations=[GPU_TOLERATION])
    taken = {"gpu": Allocation(gpu_indices=frozenset({0}))}
    decision = place(gpu_demand, pools, taken)
    assert isinstance(decision, Unschedulable)
    assert decision.message == "0/2 pools are available: 2 Insufficient gpu."
    assert decision.pool_reasons == {"local": ("Insufficient gpu",), "gpu": ("Insufficient gpu",)}
    assert decision.reason == "Unschedulable"
    for seed in range(20):  # with the GPU free, it always goes to the GPU pool
        assert place(gpu_demand, pools, seed=seed) == Placement("gpu", (0,), {"gpu": 393})


def test_the_issue_example_message() -> None:
    pools = [pool("local"), pool("gpu", gpus=(0,), taints=(GPU_TAINT,))]
    assert message(place(demand(gpu=1), pools)) == (
        "0/2 pools are available: 1 Insufficient gpu, 1 node(s) had untolerated taint {nvidia.com/gpu: }."
    )


@pytest.mark.parametrize(
    ("strategy", "scores", "winner"),
    [("LeastAllocated", (50, 75), "eight"), ("MostAllocated", (50, 25), "four")],
)
def test_least_vs_most_allocated_on_4_and_8_cpu_pools(
    strategy: str, scores: tuple[int, int], winner: str
) -> None:
    scorer = least_allocated if strategy == "LeastAllocated" else most_allocated
    assert (scorer(2000, 4000), scorer(2000, 8000)) == scores
    pools = [pool("four", cpus=4, memory_gib=16), pool("eight", cpus=8, memory_gib=16)]
    two_cpus = demand(cpu="2", memory="1Gi")
    for seed in range(10):
        decision = place(two_cpus, pools, strategy=strategy, seed=seed)
        assert isinstance(decision, Placement) and decision.pool == winner
    # memory is equal on both pools, so the cpu score decides: average of cpu and memory, weights 1/1
    memory = scorer(GIB, 16 * GIB)
    for p, cpu_score in zip(pools, scores, strict=True):
        expected = (cpu_score + memory) // 2
        assert resources_fit_score(two_cpus, p, Allocation(), ScoringStrategy(strategy)) == expected


# --- Filters and messages -----------------------------------------------------------------------

CASES: list[tuple[str, list[Pool], Demand, str]] = [
    (
        "cordoned",
        [pool("a", unschedulable=True)],
        demand(cpu="1"),
        "0/1 pools are available: 1 node(s) were unschedulable.",
    ),
    (
        "untolerated NoSchedule taint with a value",
        [pool("a", taints=(taint("dedicated", "NoSchedule", "ml"),))],
        demand(),
        "0/1 pools are available: 1 node(s) had untolerated taint {dedicated: ml}.",
    ),
    (
        "NoExecute filters too",
        [pool("a", taints=(taint("k", "NoExecute"),))],
        demand(),
        "0/1 pools are available: 1 node(s) had untolerated taint {k: }.",
    ),
    (
        "first untolerated taint only",
        [
            pool(
                "a",
                taints=(taint("x", "PreferNoSchedule"), taint("y", "NoSchedule"), taint("z", "NoSchedule")),
            )
        ],
        demand(),
        "0/1 pools are available: 1 node(s) had untolerated taint {y: }.",
    ),
    (
        "selector",
        [pool("a", labels={"accelerator": "amd"}), pool("b")],
        demand(node_selector={"accelerator": "nvidia"}),
        "0/2 pools are available: 2 node(s) didn't match Pod's node affinity/selector.",
    ),
    (
        "every insufficient resource is listed",
        [pool("a", cpus=1, memory_gib=1)],
        demand(cpu="2", memory="2Gi", gpu=1),
        "0/1 pools are available: 1 Insufficient cpu, 1 Insufficient gpu, 1 Insufficient memory.",
    ),
    (
        "cordon is checked before taints, taints before selector, selector before resources",
        [
            pool("a", unschedulable=True, taints=(GPU_TAINT,)),
            pool("b", taints=(GPU_TAINT,), labels={"x": "no"}),
            pool("c", cpus=1, labels={"x": "no"}),
            pool("d", cpus=1, labels={"x": "yes"}),
        ],
        demand(cpu="2", node_selector={"x": "yes"}),
        "0/4 pools are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {nvidia.com/gpu: }, 1 node(s) were unschedulable.",
    ),
    (
        "counts sort as strings, as Kubernetes does",
        [pool(f"p{i}", cpus=1) for i in range(10)]
        + [pool("t", taints=(GPU_TAINT,)), pool("u", taints=(GPU_TAINT,))],
        demand(cpu="2"),
        "0/12 pools are available: 10 Insufficient cpu, 2 node(s) had untolerated taint {nvidia.com/gpu: }.",
    ),
    ("no pools", [], demand(), "no pools available to schedule replicas"),
]


@pytest.mark.parametrize(
    ("pools", "d", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_unschedulable_messages(pools: list[Pool], d: Demand, expected: str) -> None:
    assert message(place(d, pools)) == expected


def test_allocations_count_against_capacity() -> None:
    pools = [pool("a", cpus=2, memory_gib=2)]
    held = {"a": Allocation(cpu_millis=1500, memory_bytes=GIB)}
    assert message(place(demand(cpu="600m"), pools, held)) == "0/1 pools are available: 1 Insufficient cpu."
    assert isinstance(place(demand(cpu="500m", memory="1Gi"), pools, held), Placement)


def test_zero_requests_always_fit_even_on_a_full_pool() -> None:
    full = {"a": Allocation(2000, 2 * GIB, frozenset(), 2000, 2 * GIB)}
    # over capacity once 100m / 200Mi are counted: resource score 0, plus 300 for no soft taint
    assert place(demand(), [pool("a", cpus=2, memory_gib=2)], full) == Placement("a", (), {"a": 300})


@pytest.mark.parametrize(
    ("toleration", "fits"),
    [
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, True),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, True),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "nvidia.com/gpu", "value": "present"}, False),
        ({"key": "nvidia.com/gpu", "value": ""}, True),
        ({"operator": "Exists"}, True),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerations(toleration: dict[str, str], fits: bool) -> None:
    d = demand(tolerations=[Toleration.model_validate(toleration)])
    assert isinstance(place(d, [pool("gpu", taints=(GPU_TAINT,))]), Placement) is fits


def test_a_replica_tolerating_the_unschedulable_taint_may_use_a_cordoned_pool() -> None:
    tolerates = Toleration.model_validate({"key": "node.kubernetes.io/unschedulable", "operator": "Exists"})
    assert isinstance(place(demand(tolerations=[tolerates]), [pool("a", unschedulable=True)]), Placement)


def test_selector_on_the_pool_label() -> None:
    pools = [pool("local"), pool("cpu")]
    for seed in range(10):
        decision = place(demand(node_selector={"modelplane.dev/pool": "cpu"}), pools, seed=seed)
        assert isinstance(decision, Placement) and decision.pool == "cpu"


# --- Scores -------------------------------------------------------------------------------------


def test_prefer_no_schedule_is_a_penalty_not_a_filter() -> None:
    soft = taint("spot", "PreferNoSchedule")
    pools = [pool("soft", taints=(soft,)), pool("plain")]
    for seed in range(20):
        decision = place(demand(cpu="1"), pools, seed=seed)
        assert isinstance(decision, Placement) and decision.pool == "plain"
        assert decision.scores == {"soft": 93 + 0, "plain": 93 + 300}
    assert isinstance(place(demand(cpu="1"), [pool("soft", taints=(soft,))]), Placement)
    tolerant = demand(cpu="1", tolerations=[Toleration.model_validate({"key": "spot", "operator": "Exists"})])
    assert {place(tolerant, pools, seed=seed).pool for seed in range(30)} == {"soft", "plain"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("counts", "scores"),
    [([0, 0], [100, 100]), ([1, 0], [0, 100]), ([2, 1, 0], [0, 50, 100]), ([3, 1], [0, 67]), ([], [])],
)
def test_taint_toleration_normalisation(counts: list[int], scores: list[int]) -> None:
    assert taint_toleration_scores(counts) == scores


@pytest.mark.parametrize(
    ("requested", "capacity", "least", "most"),
    [(0, 4000, 100, 0), (4000, 4000, 0, 100), (5000, 4000, 0, 100), (1, 3, 66, 33), (100, 0, 0, 0)],
)
def test_resource_scores_round_down_and_cap(requested: int, capacity: int, least: int, most: int) -> None:
    assert (least_allocated(requested, capacity), most_allocated(requested, capacity)) == (least, most)


def test_zero_requests_count_as_100m_and_200mi_for_scoring_only() -> None:
    p = pool("a", cpus=1, memory_gib=1)
    # cpu (1000-100)*100/1000 = 90, memory (1024-200)*100/1024 = 80 → 85
    assert resources_fit_score(demand(), p, Allocation(), ScoringStrategy.LEAST_ALLOCATED) == 85
    held = tally([("a", demand(), ())])
    assert (held["a"].cpu_millis, held["a"].scoring_cpu_millis) == (0, 100)
    assert (held["a"].memory_bytes, held["a"].scoring_memory_bytes) == (0, 200 * MIB)
    # with one such replica already there: cpu 80, memory (1024-400)*100/1024 = 60 → 70
    assert resources_fit_score(demand(), p, held["a"], ScoringStrategy.LEAST_ALLOCATED) == 70


def test_a_pool_without_memory_is_scored_on_cpu_alone() -> None:
    p = pool("a", cpus=4, memory_gib=0)
    assert resources_fit_score(demand(cpu="1"), p, Allocation(), ScoringStrategy.LEAST_ALLOCATED) == 75


def test_least_allocated_spreads_and_most_allocated_packs() -> None:
    pools = [pool("a", cpus=4), pool("b", cpus=4)]
    for strategy, expect_same in (("LeastAllocated", False), ("MostAllocated", True)):
        held: dict[str, Allocation] = {}
        chosen = []
        for _ in range(2):
            decision = place(demand(cpu="1", memory="1Gi"), pools, held, strategy=strategy, seed=3)
            assert isinstance(decision, Placement)
            chosen.append(decision.pool)
            held[decision.pool] = held.get(decision.pool, Allocation()).plus(demand(cpu="1", memory="1Gi"))
        assert (chosen[0] == chosen[1]) is expect_same


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="BalancedAllocation"):
        place(demand(), [pool("a")], strategy="BalancedAllocation")


# --- Ties ---------------------------------------------------------------------------------------


def test_seeded_tie_break_is_reproducible_and_random() -> None:
    pools = [pool(name) for name in "abcd"]
    runs = [[place(demand(cpu="1"), pools, seed=seed) for seed in range(40)] for _ in range(2)]
    assert runs[0] == runs[1]
    assert {decision.pool for decision in runs[0]} == set("abcd")  # type: ignore[union-attr]


# --- GPUs ---------------------------------------------------------------------------------------


def test_gpus_are_whole_devices_never_shared_across_placements() -> None:
    pools = [pool("gpu", cpus=64, memory_gib=256, gpus=(0, 1, 2, 3), taints=(GPU_TAINT,))]
    held: dict[str, Allocation] = {}
    assigned = []
    for count in (1, 2, 1):
        d = demand(cpu="1", gpu=count, tolerations=[GPU_TOLERATION])
        decision = place(d, pools, held)
        assert isinstance(decision, Placement)
        assigned.append(decision.gpu_indices)
        held["gpu"] = held.get("gpu", Allocation()).plus(d, decision.gpu_indices)
    assert assigned == [(0,), (1, 2), (3,)]
    assert message(place(demand(gpu=1, tolerations=[GPU_TOLERATION]), pools, held)) == (
        "0/1 pools are available: 1 Insufficient gpu."
    )
    # the replica holding device 1 and 2 goes away: the next one gets the lowest free index
    freed = {"gpu": tally([("gpu", demand(gpu=1), (0,)), ("gpu", demand(gpu=1), (3,))])["gpu"]}
    assert place(demand(gpu=2, tolerations=[GPU_TOLERATION]), pools, freed).gpu_indices == (1, 2)  # type: ignore[union-attr]


def test_a_cpu_replica_on_a_gpu_pool_gets_no_gpus() -> None:
    decision = place(demand(cpu="1"), [pool("gpu", gpus=(0, 1))])
    assert decision == Placement("gpu", (), {"gpu": 393})


def test_gpus_of_a_pool_are_its_own_indices() -> None:
    pools = [pool("a", gpus=(0,), labels={"k": "a"}), pool("b", gpus=(1, 2), labels={"k": "b"})]
    decision = place(demand(gpu=1, node_selector={"k": "b"}), pools)
    assert isinstance(decision, Placement) and (decision.pool, decision.gpu_indices) == ("b", (1,))


@pytest.mark.parametrize(("indices", "value"), [((), ""), ((0,), "0"), ((2, 0), "0,2"), ((1, 3, 2), "1,2,3")])
def test_cuda_visible_devices(indices: tuple[int, ...], value: str) -> None:
    assert cuda_visible_devices(indices) == value
    assert gpu_environment(indices) == {"CUDA_VISIBLE_DEVICES": value, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


# --- Demands from spec objects -------------------------------------------------------------------

DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment}
spec:
  model: {uri: ./m, format: sklearn, version: v1}
  resources:
    requests: {cpu: 500m}
    limits: {cpu: "1", memory: 1Gi, gpu: 1}
  nodeSelector: {pool: gpu}
  tolerations: [{key: nvidia.com/gpu, operator: Exists}]
"""


def test_demand_of_a_deployment_uses_requests_defaulted_to_limits() -> None:
    result = load_text(DEPLOYMENT)
    result.raise_for_errors()
    [md] = result.of_kind(ModelDeployment)
    d = Demand.for_deployment(md)
    assert (d.cpu_millis, d.memory_bytes, d.gpus) == (500, GIB, 1)
    assert d.node_selector == {"pool": "gpu"}
    assert d.tolerations == (GPU_TOLERATION,)


def replica(name: str, pool_name: str | None, gpus: list[int], phase: ReplicaPhase, **limits: Any) -> Replica:
    return Replica.model_validate(
        {
            "name": name,
            "spec": {
                "deployment": "d",
                "revision": "r",
                "version": "v1",
                "port": 0,
                "resources": {"limits": limits},
                "pool": pool_name,
                "gpus": gpus,
            },
            "status": {"phase": phase},
        }
    )


def test_allocations_of_replicas_count_every_placed_replica_not_yet_terminated() -> None:
    replicas = [
        replica("a", "gpu", [0], ReplicaPhase.RUNNING, cpu="1", memory="1Gi", gpu=1),
        replica("b", "gpu", [1], ReplicaPhase.TERMINATING, cpu="1", gpu=1),
        replica("c", "gpu", [2], ReplicaPhase.TERMINATED, cpu="1", gpu=1),
        replica("d", None, [], ReplicaPhase.PENDING, cpu="4"),
        replica("e", "local", [], ReplicaPhase.SCHEDULED),
    ]
    held = allocations_of(replicas)
    assert held["gpu"] == Allocation(2000, GIB, frozenset({0, 1}), 2000, GIB + 200 * MIB)
    assert held["local"] == Allocation(0, 0, frozenset(), 100, 200 * MIB)
    assert set(held) == {"gpu", "local"}
