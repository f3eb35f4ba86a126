"""The scheduler: places replicas on node pools, like kube-scheduler, and hands out whole GPUs.

Import from `modelplane.scheduler`, not its modules. The parts, lowest first:

    inventory   the machine: CPUs, memory (both capped by cgroups), GPUs (injected, MODELPLANE_GPUS or NVML)
    pools       the pools: declared NodePools carved out of the machine, `local` keeps the rest
    demand      what a replica asks (requests, nodeSelector, tolerations) and what pools already give out
    filtering   Kubernetes' filters and their reason strings; the `0/N pools are available` message
    scoring     Kubernetes' scores: NodeResourcesFit (LeastAllocated / MostAllocated), TaintToleration
    scheduling  `schedule()`: filter, score, pick (ties at random with the rng given), assign GPU indices
    gpus        CUDA_VISIBLE_DEVICES for a replica's GPU indices

    machine = detect_machine(env=os.environ)
    pools = build_pools(machine, nodepools).pools
    decision = schedule(Demand.for_deployment(md), pools, allocations_of(replicas), rng=random.Random())

Everything below `detect_machine` is pure: no clock, no environment, no I/O.
"""

from modelplane.scheduler.demand import (
    DEFAULT_SCORING_CPU_MILLIS,
    DEFAULT_SCORING_MEMORY_BYTES,
    Allocation,
    Demand,
    allocations_of,
    tally,
)
from modelplane.scheduler.errors import InventoryError
from modelplane.scheduler.filtering import (
    REASON_SELECTOR,
    REASON_UNSCHEDULABLE,
    UNSCHEDULABLE_TAINT,
    filter_reasons,
    free_gpus,
    insufficient_reason,
    unschedulable_message,
    untolerated_taint_reason,
)
from modelplane.scheduler.gpus import cuda_visible_devices, gpu_environment
from modelplane.scheduler.inventory import (
    GPUS_ENV,
    GpuDevice,
    GpuSource,
    Machine,
    detect_machine,
    load_gpu_inventory,
    parse_gpu_inventory,
)
from modelplane.scheduler.pools import (
    GPU_COUNT_LABEL,
    GPU_PRODUCT_LABEL,
    LOCAL_POOL,
    POOL_LABEL,
    Capacity,
    Pool,
    PoolsResult,
    build_pools,
)
from modelplane.scheduler.scheduling import Placement, Unschedulable, schedule
from modelplane.scheduler.scoring import (
    ScoringStrategy,
    least_allocated,
    most_allocated,
    resources_fit_score,
    taint_toleration_scores,
)

__all__ = [
    "DEFAULT_SCORING_CPU_MILLIS",
    "DEFAULT_SCORING_MEMORY_BYTES",
    "GPUS_ENV",
    "GPU_COUNT_LABEL",
    "GPU_PRODUCT_LABEL",
    "LOCAL_POOL",
    "POOL_LABEL",
    "REASON_SELECTOR",
    "REASON_UNSCHEDULABLE",
    "UNSCHEDULABLE_TAINT",
    "Allocation",
    "Capacity",
    "Demand",
    "GpuDevice",
    "GpuSource",
    "InventoryError",
    "Machine",
    "Placement",
    "Pool",
    "PoolsResult",
    "ScoringStrategy",
    "Unschedulable",
    "allocations_of",
    "build_pools",
    "cuda_visible_devices",
    "detect_machine",
    "filter_reasons",
    "free_gpus",
    "gpu_environment",
    "insufficient_reason",
    "least_allocated",
    "load_gpu_inventory",
    "most_allocated",
    "parse_gpu_inventory",
    "resources_fit_score",
    "schedule",
    "taint_toleration_scores",
    "tally",
    "unschedulable_message",
    "untolerated_taint_reason",
]
