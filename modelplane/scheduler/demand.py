"""What a replica asks of a pool (`Demand`) and what a pool already gives out (`Allocation`).

A demand is the replica's *requests* (the spec defaults requests to limits, per resource, as
Kubernetes' SetDefaults_Pod; `Demand.of` applies that defaulting again, so a Replica built without
it still counts right), plus its nodeSelector and tolerations. Limits play no part in scheduling.

For *scoring only*, a zero CPU or memory request counts as 100m / 200Mi (Kubernetes'
`GetNonzeroRequests`), so that spreading still sees replicas that ask for nothing; fitting uses the
real requests. `Allocation` carries both sums for that reason.

Invariants: everything is frozen; an allocation only grows through `plus`; GPU indices held in one
allocation are a set (a device is held once or not at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from modelplane.spec import Job, ModelDeployment, ResourceRequirements, Toleration
from modelplane.spec.replica import HOLDS_NOTHING, Replica

DEFAULT_SCORING_CPU_MILLIS = 100
"""Kubernetes' DefaultMilliCPURequest: what a zero CPU request counts as when scoring."""
DEFAULT_SCORING_MEMORY_BYTES = 200 * 1024 * 1024
"""Kubernetes' DefaultMemoryRequest (200 MiB): what a zero memory request counts as when scoring."""


@dataclass(frozen=True)
class Demand:
    """The requests of one replica, and where it may go."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()

    @property
    def scoring_cpu_millis(self) -> int:
        return self.cpu_millis or DEFAULT_SCORING_CPU_MILLIS

    @property
    def scoring_memory_bytes(self) -> int:
        return self.memory_bytes or DEFAULT_SCORING_MEMORY_BYTES

    @classmethod
    def of(
        cls,
        resources: ResourceRequirements,
        *,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Toleration] = (),
    ) -> Demand:
        """The demand of a replica with `resources` (requests defaulted to limits)."""
        requests = resources.defaulted().requests
        return cls(
            cpu_millis=requests.cpu_millis,
            memory_bytes=requests.memory_bytes,
            gpus=requests.gpus,
            node_selector=dict(node_selector or {}),
            tolerations=tuple(tolerations),
        )

    @classmethod
    def for_deployment(cls, deployment: ModelDeployment) -> Demand:
        """The demand of each replica of `deployment`."""
        spec = deployment.spec
        return cls.of(spec.resources, node_selector=spec.node_selector, tolerations=spec.tolerations)

    @classmethod
    def for_job(cls, job: Job) -> Demand:
        """The demand of the pod of `job`."""
        spec = job.spec
        return cls.of(spec.resources, node_selector=spec.node_selector, tolerations=spec.tolerations)

    @classmethod
    def for_replica(
        cls,
        replica: Replica,
        *,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Toleration] = (),
    ) -> Demand:
        """The demand of `replica`; a Replica carries no placement rules, so its owner's are passed."""
        return cls.of(replica.spec.resources, node_selector=node_selector, tolerations=tolerations)


@dataclass(frozen=True)
class Allocation:
    """What one pool has already given out."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpu_indices: frozenset[int] = frozenset()
    scoring_cpu_millis: int = 0
    """CPU with zero requests counted as 100m: what the scores see (Kubernetes' NonZeroRequested)."""
    scoring_memory_bytes: int = 0
    """Memory with zero requests counted as 200Mi."""

    def plus(self, demand: Demand, gpu_indices: Iterable[int] = ()) -> Allocation:
        """This allocation with one more replica of `demand` holding `gpu_indices`."""
        return Allocation(
            cpu_millis=self.cpu_millis + demand.cpu_millis,
            memory_bytes=self.memory_bytes + demand.memory_bytes,
            gpu_indices=self.gpu_indices | frozenset(gpu_indices),
            scoring_cpu_millis=self.scoring_cpu_millis + demand.scoring_cpu_millis,
            scoring_memory_bytes=self.scoring_memory_bytes + demand.scoring_memory_bytes,
        )


def tally(placed: Iterable[tuple[str, Demand, Iterable[int]]]) -> dict[str, Allocation]:
    """Allocations per pool from (pool, demand, GPU indices) of the replicas already placed."""
    allocations: dict[str, Allocation] = {}
    for pool, demand, gpu_indices in placed:
        allocations[pool] = allocations.get(pool, Allocation()).plus(demand, gpu_indices)
    return allocations


def allocations_of(replicas: Iterable[Replica]) -> dict[str, Allocation]:
    """Allocations per pool held by `replicas`: every one placed on a pool and not yet Terminated,
    Succeeded or Failed (a finished Job replica, like a terminal pod, holds nothing).

    A Terminating replica still holds its share (its process may still run), as a terminating pod
    does until it is gone.
    """
    return tally(
        (replica.spec.pool, Demand.for_replica(replica), replica.spec.gpus)
        for replica in replicas
        if replica.spec.pool is not None and replica.status.phase not in HOLDS_NOTHING
    )
