"""NodePool: a set of machines replicas can be placed on.

Locally a pool is a slice of this machine (a pool `local` is detected from the machine when none is
declared); on Kubernetes it maps to a node selector (its labels) plus taints. NodePools are
cluster-wide: they have no namespace.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from modelplane.spec.meta import Labels, Object, SpecModel
from modelplane.spec.placement import Taint
from modelplane.spec.resources import ResourceList


class NodePoolSpec(SpecModel):
    """Capacity, labels and taints of a pool."""

    capacity: ResourceList
    """What the pool offers to replicas, e.g. {cpu: "8", memory: 32Gi, gpu: 1}."""
    labels: Labels = Field(default_factory=dict)
    """Matched by `nodeSelector` of deployments and jobs."""
    taints: list[Taint] = Field(default_factory=list)
    """Keep away replicas that do not tolerate them, e.g. [{key: nvidia.com/gpu, effect: NoSchedule}]."""
    unschedulable: bool = False
    """Cordoned (kubectl cordon): no new replica is placed here; `modelplane drain` sets it."""


class NodePool(Object):
    """A pool of capacity with labels and taints."""

    kind: Literal["NodePool"] = "NodePool"
    spec: NodePoolSpec

    cluster_scoped: ClassVar[bool] = True
