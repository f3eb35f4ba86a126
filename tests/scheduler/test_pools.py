"""Pools: `local` from the machine, NodePools carved out of it in order, disjoint GPUs, cordons."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.scheduler import (
    GPU_COUNT_LABEL,
    GPU_PRODUCT_LABEL,
    POOL_LABEL,
    Capacity,
    GpuDevice,
    Machine,
    Pool,
    build_pools,
)
from modelplane.spec import NodePool, Taint, TaintEffect

GIB = 2**30
H100 = "NVIDIA H100 80GB HBM3"


def machine(cpus: int = 8, memory_gib: int = 32, gpus: int = 0, name: str = H100) -> Machine:
    return Machine(cpus * 1000, memory_gib * GIB, tuple(GpuDevice(i, name, 80 * GIB) for i in range(gpus)))


def nodepool(name: str, capacity: dict[str, Any], **spec: Any) -> NodePool:
    return NodePool.model_validate(
        {
            "apiVersion": "modelplane.dev/v1alpha1",
            "kind": "NodePool",
            "metadata": {"name": name},
            "spec": {"capacity": capacity, **spec},
        }
    )


def by_name(pools: list[Pool]) -> dict[str, Pool]:
    return {pool.name: pool for pool in pools}


def test_the_default_pool_is_the_whole_machine() -> None:
    result = build_pools(machine(gpus=2), [])
    assert result.warnings == []
    [local] = result.pools
    assert local.name == "local"
    assert local.capacity == Capacity(8000, 32 * GIB, 2)
    assert local.gpu_devices == (0, 1)
    assert local.labels == {
        POOL_LABEL: "local",
        GPU_COUNT_LABEL: "2",
        GPU_PRODUCT_LABEL: "NVIDIA-H100-80GB-HBM3",
    }
    assert (local.taints, local.unschedulable) == ((), False)


def test_design_example_gpu_pool_carves_out_of_local() -> None:
    gpu = nodepool(
        "gpu",
        {"cpu": "4", "memory": "16Gi", "gpu": 1},
        labels={"accelerator": "nvidia"},
        taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
    )
    result = build_pools(machine(gpus=2), [gpu])
    assert result.warnings == []
    pools = by_name(result.pools)
    assert [pool.name for pool in result.pools] == ["local", "gpu"]
    assert pools["gpu"].capacity == Capacity(4000, 16 * GIB, 1)
    assert pools["gpu"].gpu_devices == (0,)
    assert pools["gpu"].labels["accelerator"] == "nvidia"
    assert pools["gpu"].labels[POOL_LABEL] == "gpu"
    assert pools["gpu"].taints == (Taint(key="nvidia.com/gpu", effect=TaintEffect.NO_SCHEDULE),)
    assert pools["local"].capacity == Capacity(4000, 16 * GIB, 1)
    assert pools["local"].gpu_devices == (1,)


def test_gpus_are_disjoint_and_in_inventory_order() -> None:
    pools = by_name(
        build_pools(machine(gpus=4), [nodepool("a", {"gpu": 1}), nodepool("b", {"gpu": 2})]).pools
    )
    assert (pools["a"].gpu_devices, pools["b"].gpu_devices, pools["local"].gpu_devices) == (
        (0,),
        (1, 2),
        (3,),
    )
    assert [pool.capacity.gpus for pool in pools.values()] == [1, 1, 2]


def test_an_unmentioned_resource_is_zero_in_a_declared_pool() -> None:
    pools = by_name(build_pools(machine(gpus=1), [nodepool("small", {"cpu": "500m"})]).pools)
    assert pools["small"].capacity == Capacity(500, 0, 0)
    assert pools["small"].gpu_devices == ()
    assert GPU_COUNT_LABEL not in pools["small"].labels
    assert pools["local"].capacity == Capacity(7500, 32 * GIB, 1)


@pytest.mark.parametrize(
    ("capacities", "expected", "warning"),
    [
        (
            [{"cpu": "6"}, {"cpu": "6"}],
            {"a": 6000, "b": 2000, "local": 0},
            "NodePool 'b' asks for cpu 6 but only 2 is left on this machine (8 in all, the rest taken by the "
            "pools declared before it); it gets 2. Lower spec.capacity.cpu of NodePool 'b', or of a pool "
            "declared before it.",
        ),
        (
            [{"cpu": "10"}, {"cpu": "1"}],
            {"a": 8000, "b": 0, "local": 0},
            "NodePool 'a' asks for cpu 10 but only 8 is left",
        ),
    ],
)
def test_over_asking_pools_get_what_is_left_in_order(
    capacities: list[dict[str, Any]], expected: dict[str, int], warning: str
) -> None:
    result = build_pools(machine(), [nodepool(name, cap) for name, cap in zip("ab", capacities, strict=True)])
    assert {pool.name: pool.capacity.cpu_millis for pool in result.pools} == expected
    assert any(w.startswith(warning) for w in result.warnings), result.warnings


def test_over_asking_memory_and_gpus_warns_per_resource() -> None:
    result = build_pools(machine(gpus=2), [nodepool("big", {"memory": "64Gi", "gpu": 3})])
    pools = by_name(result.pools)
    assert pools["big"].capacity == Capacity(0, 32 * GIB, 2)
    assert pools["big"].gpu_devices == (0, 1)
    assert pools["local"].capacity == Capacity(8000, 0, 0)
    assert len(result.warnings) == 2
    assert "asks for memory 64Gi but only 32Gi is left" in result.warnings[0]
    assert "asks for gpu 3 but only 2 is left" in result.warnings[1]


def test_a_nodepool_named_local_replaces_the_default() -> None:
    result = build_pools(machine(), [nodepool("local", {"cpu": "2", "memory": "1Gi"}, labels={"tier": "x"})])
    [local] = result.pools
    assert local.capacity == Capacity(2000, GIB, 0)
    assert local.labels == {"tier": "x", POOL_LABEL: "local"}


def test_cordoned_pools_stay_but_are_unschedulable() -> None:
    result = build_pools(machine(), [nodepool("a", {"cpu": "1"})], cordoned={"a", "nope"})
    pools = by_name(result.pools)
    assert pools["a"].unschedulable and not pools["local"].unschedulable
    assert result.warnings == ["cannot cordon pool 'nope': there is no such pool (pools: a, local)."]


def test_a_pool_declared_twice_is_used_once() -> None:
    result = build_pools(machine(), [nodepool("a", {"cpu": "1"}), nodepool("a", {"cpu": "2"})])
    assert by_name(result.pools)["a"].capacity.cpu_millis == 1000
    assert result.warnings == ["NodePool 'a' is declared twice; the second one is ignored."]


def test_mixed_gpu_models_get_no_product_label() -> None:
    mixed = Machine(1000, GIB, (GpuDevice(0, "NVIDIA L4"), GpuDevice(1, "NVIDIA A100")))
    [local] = build_pools(mixed, []).pools
    assert local.labels == {POOL_LABEL: "local", GPU_COUNT_LABEL: "2"}


def test_declared_labels_win_over_gpu_labels_but_not_the_pool_label() -> None:
    pool = nodepool("g", {"gpu": 1}, labels={GPU_PRODUCT_LABEL: "mine", POOL_LABEL: "other"})
    pools = by_name(build_pools(machine(gpus=1), [pool]).pools)
    assert pools["g"].labels == {GPU_COUNT_LABEL: "1", GPU_PRODUCT_LABEL: "mine", POOL_LABEL: "g"}
