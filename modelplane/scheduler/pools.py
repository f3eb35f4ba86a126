"""Node pools of this machine: the default pool `local`, and the declared NodePools carved out of it.

Locally a pool is a slice of one machine. Declared NodePools take their capacity from the machine in
declaration order; the default pool `local` keeps what is left. When the declared pools ask for more
than the machine has, each gets what is left when its turn comes and a warning says so. A NodePool
named `local` replaces the detected default pool (and nothing is left over for another one).

GPUs are whole devices: each pool gets disjoint device indices, taken from the inventory in index
order, and `capacity.gpus == len(gpu_devices)` always holds. A resource a NodePool does not mention
is zero in that pool (`capacity: {cpu: "2"}` gives no memory and no GPUs).

Every pool carries the label `modelplane.dev/pool: <name>` (so `nodeSelector` can name a pool), and
a pool with GPUs also carries `nvidia.com/gpu.count` and, when its devices are all one model,
`nvidia.com/gpu.product` as NVIDIA's GPU feature discovery writes them (labels the NodePool
declares win). Cordoned pools (`cordoned`: spec.NodePool has no such field yet, so the caller says
which) stay in the list, marked `unschedulable`: the scheduler filters them out, replicas already on
them stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from modelplane.scheduler.inventory import GpuDevice, Machine
from modelplane.spec import NodePool, Taint, format_cpu, format_memory

LOCAL_POOL = "local"
POOL_LABEL = "modelplane.dev/pool"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"


@dataclass(frozen=True)
class Capacity:
    """What a pool offers: millicores, bytes and whole GPUs."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0


@dataclass(frozen=True)
class Pool:
    """One pool replicas can be placed on (a node, to the scheduler)."""

    name: str
    capacity: Capacity
    gpu_devices: tuple[int, ...] = ()
    """The NVML indices of this pool's GPUs, ascending; no other pool has any of them."""
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    """Cordoned: no new replicas (like a node's spec.unschedulable)."""


@dataclass(frozen=True)
class PoolsResult:
    pools: list[Pool]
    warnings: list[str]


@dataclass
class _Remaining:
    cpu_millis: int
    memory_bytes: int
    gpus: list[GpuDevice]


def build_pools(
    machine: Machine, nodepools: Sequence[NodePool], *, cordoned: Collection[str] = ()
) -> PoolsResult:
    """The pools of `machine`: the declared NodePools, then `local` with what is left."""
    left = _Remaining(machine.cpu_millis, machine.memory_bytes, list(machine.gpus))
    warnings: list[str] = []
    pools: list[Pool] = []
    seen: set[str] = set()
    for nodepool in nodepools:
        name = nodepool.metadata.name
        if name in seen:
            warnings.append(f"NodePool {name!r} is declared twice; the second one is ignored.")
            continue
        seen.add(name)
        pools.append(_carve(nodepool, left, machine, warnings))
    if LOCAL_POOL not in seen:
        devices, left.gpus = left.gpus, []
        local = _pool(LOCAL_POOL, left.cpu_millis, left.memory_bytes, devices, labels={}, taints=())
        pools.insert(0, local)
    names = {pool.name for pool in pools}
    for unknown in sorted(set(cordoned) - names):
        warnings.append(
            f"cannot cordon pool {unknown!r}: there is no such pool (pools: {', '.join(sorted(names))})."
        )
    pools = [_cordon(pool) if pool.name in cordoned else pool for pool in pools]
    return PoolsResult(pools, warnings)


def _carve(nodepool: NodePool, left: _Remaining, machine: Machine, warnings: list[str]) -> Pool:
    """Take the capacity `nodepool` asks for out of `left`, warning about any shortfall."""
    name, asked = nodepool.metadata.name, nodepool.spec.capacity
    shares: list[tuple[str, int, int, int, Callable[[int], str]]] = [
        ("cpu", asked.cpu_millis, left.cpu_millis, machine.cpu_millis, format_cpu),
        ("memory", asked.memory_bytes, left.memory_bytes, machine.memory_bytes, format_memory),
        ("gpu", asked.gpus, len(left.gpus), len(machine.gpus), str),
    ]
    cpu, memory, gpus = (_take(name, *share, warnings=warnings) for share in shares)
    left.cpu_millis -= cpu
    left.memory_bytes -= memory
    devices, left.gpus = left.gpus[:gpus], left.gpus[gpus:]
    return _pool(name, cpu, memory, devices, labels=nodepool.spec.labels, taints=tuple(nodepool.spec.taints))


def _take(
    pool: str,
    resource: str,
    asked: int,
    left: int,
    total: int,
    show: Callable[[int], str],
    *,
    warnings: list[str],
) -> int:
    """`asked`, or what is `left` of the machine's `total` when that is less (with a warning)."""
    if asked <= left:
        return asked
    warnings.append(
        f"NodePool {pool!r} asks for {resource} {show(asked)} but only {show(left)} is left on this machine "
        f"({show(total)} in all, the rest taken by the pools declared before it); it gets {show(left)}. "
        f"Lower spec.capacity.{resource} of NodePool {pool!r}, or of a pool declared before it."
    )
    return left


def _pool(
    name: str,
    cpu_millis: int,
    memory_bytes: int,
    devices: Sequence[GpuDevice],
    *,
    labels: Mapping[str, str],
    taints: tuple[Taint, ...],
) -> Pool:
    return Pool(
        name=name,
        capacity=Capacity(cpu_millis, memory_bytes, len(devices)),
        gpu_devices=tuple(sorted(device.index for device in devices)),
        labels={**gpu_labels(devices), **labels, POOL_LABEL: name},
        taints=taints,
    )


def _cordon(pool: Pool) -> Pool:
    return Pool(pool.name, pool.capacity, pool.gpu_devices, pool.labels, pool.taints, unschedulable=True)


def gpu_labels(devices: Sequence[GpuDevice]) -> dict[str, str]:
    """`nvidia.com/gpu.count` and (one model only) `nvidia.com/gpu.product`, as GPU feature discovery."""
    if not devices:
        return {}
    labels = {GPU_COUNT_LABEL: str(len(devices))}
    products = {device.name for device in devices}
    if len(products) == 1:
        product = _label_value(products.pop().replace(" ", "-"))
        if product:
            labels[GPU_PRODUCT_LABEL] = product
    return labels


def _label_value(text: str) -> str:
    """`text` made a valid label value: [A-Za-z0-9_.-], alphanumeric at both ends, at most 63."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:63]
    return cleaned.strip("_.-")
