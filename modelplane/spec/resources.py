"""Compute resources: `requests` (what scheduling reserves) and `limits` (what the runtime enforces).

Defaulting as Kubernetes' SetDefaults_Pod: a resource given only in `limits` gets the same request.
One addition: a GPU given only in `requests` gets the same limit (Kubernetes rejects that spec instead).
Invariants after validation: request ≤ limit for cpu and memory wherever both are set; GPU requests
equal GPU limits (GPUs are never overcommitted or shared).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from modelplane.spec.errors import FieldPath, FieldProblems
from modelplane.spec.meta import SpecModel
from modelplane.spec.quantities import Cpu, GpuCount, Memory


class ResourceList(SpecModel):
    """Amounts of cpu, memory and GPUs. An omitted resource is unset (not zero)."""

    cpu: Cpu | None = None
    """CPU in cores or millicores: `2`, `0.5`, `500m`."""
    memory: Memory | None = None
    """Memory in bytes with an optional suffix: `512Mi`, `1Gi`, `1G`, `1e9`."""
    gpu: GpuCount | None = None
    """Whole GPUs (`nvidia.com/gpu` on Kubernetes)."""

    @property
    def cpu_millis(self) -> int:
        """Millicores, 0 when unset."""
        return self.cpu.millis if self.cpu is not None else 0

    @property
    def memory_bytes(self) -> int:
        """Bytes, 0 when unset."""
        return self.memory.bytes if self.memory is not None else 0

    @property
    def gpus(self) -> int:
        """GPUs, 0 when unset."""
        return self.gpu or 0

    def is_empty(self) -> bool:
        return self.cpu is None and self.memory is None and self.gpu is None


class ResourceRequirements(SpecModel):
    """Requests and limits of one replica (or one Job pod)."""

    requests: ResourceList = Field(default_factory=ResourceList)
    """What the scheduler reserves on a node pool. Defaults to `limits`, per resource."""
    limits: ResourceList = Field(default_factory=ResourceList)
    """What the runtime enforces: cpu is throttled above it, memory above it is an OOM kill."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = _check_gpu(self.requests, self.limits) + _check_not_above_limit(self.requests, self.limits)
        if problems:
            raise FieldProblems(problems)
        return self

    def defaulted(self) -> ResourceRequirements:
        """A copy with requests defaulted to limits, and GPU limits to GPU requests, per resource."""
        requests = self.requests.model_copy(
            update={
                name: getattr(self.limits, name)
                for name in ("cpu", "memory", "gpu")
                if getattr(self.requests, name) is None and getattr(self.limits, name) is not None
            }
        )
        gpu_from_request = self.limits.gpu is None and self.requests.gpu is not None
        limits = self.limits.model_copy(update={"gpu": self.requests.gpu} if gpu_from_request else {})
        return self.model_copy(update={"requests": requests, "limits": limits})


Resources = Annotated[ResourceRequirements, AfterValidator(ResourceRequirements.defaulted)]
"""Requests and limits as a field of a spec: validated, then defaulted as Kubernetes does."""


def _check_gpu(requests: ResourceList, limits: ResourceList) -> list[tuple[FieldPath, str]]:
    if requests.gpu is None or limits.gpu is None or requests.gpu == limits.gpu:
        return []
    return [
        (
            ("requests", "gpu"),
            f"GPUs cannot be overcommitted: requests.gpu ({requests.gpu}) must equal limits.gpu "
            f"({limits.gpu}). Set only limits.gpu; the request defaults to it.",
        )
    ]


def _check_not_above_limit(requests: ResourceList, limits: ResourceList) -> list[tuple[FieldPath, str]]:
    problems: list[tuple[FieldPath, str]] = []
    for name in ("cpu", "memory"):
        request, limit = getattr(requests, name), getattr(limits, name)
        if request is not None and limit is not None and request > limit:
            problems.append(
                (
                    ("requests", name),
                    f"the request ({request}) is more than the limit ({limit}). Lower requests.{name} "
                    f"or raise limits.{name} to at least {request}.",
                )
            )
    return problems
