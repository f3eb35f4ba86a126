"""Admission of a new replica into its namespace: LimitRange-style defaults, then the ResourceQuota.

Pure. `with_defaults` fills the resources a replica's template leaves unset from its namespace's
`spec.defaults` (a missing limit takes the default limit; a missing request takes the default
request, else the limit — LimitRange semantics, after Kubernetes' own defaulting of requests to
limits). `check_quota` refuses a replica whose requests
would take the namespace past `spec.quota`, with Kubernetes' message:
`exceeded quota: production, requested: gpu=1, used: gpu=2, limited: gpu=2`. As in Kubernetes the
quota is checked at creation only: lowering it evicts nothing. Before that, `check_requests` refuses a
replica that requests no cpu (or memory) in a namespace whose quota limits cpu (or memory), unless the
namespace's defaults gave it one: Kubernetes' quota admission does the same (pods.go `Constraints`,
"if we quota cpu or memory, then each container must make an explicit request for the resource"),
with `failed quota: production: must specify cpu for: sentiment`. GPUs need no request, as extended
resources in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelplane.scheduler import Demand
from modelplane.spec import NamespaceSpec, ResourceRequirements, format_cpu, format_memory

_RESOURCES = ("cpu", "memory")


def with_defaults(resources: Mapping[str, Any], namespace: NamespaceSpec | None) -> dict[str, Any]:
    """`resources` (camelCase JSON) with the namespace's defaults filled in where unset."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    result = {"requests": dict(requests), "limits": dict(limits)}
    defaults = namespace.defaults if namespace is not None else None
    if defaults is None:
        return result
    given = defaults.model_dump(mode="json", by_alias=True)
    for name in _RESOURCES:
        own_limit = result["limits"].get(name)
        if own_limit is None and given["limits"].get(name) is not None:
            result["limits"][name] = given["limits"][name]
        if result["requests"].get(name) is None:
            # a limit of its own already defaulted the request (Kubernetes defaults requests to limits
            # before admission); else the namespace's default request, else the default limit
            fallback = own_limit or given["requests"].get(name) or result["limits"].get(name)
            if fallback is not None:
                result["requests"][name] = fallback
    return result


def check_requests(
    namespace: str, spec: NamespaceSpec | None, resources: Mapping[str, Any], *, owner: str
) -> str | None:
    """None when `resources` (after `with_defaults`) request every one of cpu and memory that the
    namespace's quota limits; else Kubernetes' message naming what is missing for `owner` (the
    deployment or Job, Kubernetes' container). A limit alone is a request: Kubernetes defaults requests
    to limits before admission."""
    quota = spec.quota if spec is not None else None
    if quota is None:
        return None
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    missing = [
        name
        for name in _RESOURCES
        if getattr(quota, name) is not None and requests.get(name) is None and limits.get(name) is None
    ]
    if not missing:
        return None
    return f"failed quota: {namespace}: must specify " + "; ".join(f"{name} for: {owner}" for name in missing)


def demand_of(resources: Mapping[str, Any]) -> Demand:
    return Demand.of(ResourceRequirements.model_validate(resources))


def check_quota(
    namespace: str, spec: NamespaceSpec | None, *, requested: Demand, used: Iterable[Demand]
) -> str | None:
    """None when `requested` fits the namespace's quota next to `used`; else Kubernetes' message."""
    quota = spec.quota if spec is not None else None
    if quota is None:
        return None
    total = Demand()
    for demand in used:
        total = Demand(
            cpu_millis=total.cpu_millis + demand.cpu_millis,
            memory_bytes=total.memory_bytes + demand.memory_bytes,
            gpus=total.gpus + demand.gpus,
        )
    over: list[tuple[str, str, str, str]] = []
    if quota.cpu is not None and total.cpu_millis + requested.cpu_millis > quota.cpu_millis:
        cpu = [format_cpu(a) for a in (requested.cpu_millis, total.cpu_millis, quota.cpu_millis)]
        over.append(("cpu", cpu[0], cpu[1], cpu[2]))
    if quota.memory is not None and total.memory_bytes + requested.memory_bytes > quota.memory_bytes:
        over.append(
            (
                "memory",
                format_memory(requested.memory_bytes),
                format_memory(total.memory_bytes),
                format_memory(quota.memory_bytes),
            )
        )
    if quota.gpu is not None and total.gpus + requested.gpus > quota.gpus:
        over.append(("gpu", str(requested.gpus), str(total.gpus), str(quota.gpus)))
    if not over:
        return None

    def join(i: int) -> str:
        return ",".join(f"{item[0]}={item[i]}" for item in over)

    return f"exceeded quota: {namespace}, requested: {join(1)}, used: {join(2)}, limited: {join(3)}"
