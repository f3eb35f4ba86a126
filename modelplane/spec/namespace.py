"""Namespace: a group of objects with an optional quota and default resources.

`quota` caps the sum of requests (cpu, memory, gpu) of everything running in the namespace, like a
ResourceQuota on `requests.*`. `defaults` fills in the resources of objects that give none, like a
LimitRange of type Container (a default request falls back to the default limit). The namespace
`default` exists without being declared. Namespaces are cluster-wide: they have no namespace.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from modelplane.spec.meta import Object, SpecModel
from modelplane.spec.resources import ResourceList, Resources


class NamespaceSpec(SpecModel):
    """Quota and defaults of a namespace; both optional."""

    quota: ResourceList | None = None
    """Most cpu, memory and GPUs all replicas and jobs of the namespace may request together."""
    defaults: Resources | None = None
    """Resources for objects that set none, e.g. {limits: {cpu: "1", memory: 1Gi}}."""


class Namespace(Object):
    """A named group of objects, e.g. `staging` and `production` side by side."""

    kind: Literal["Namespace"] = "Namespace"
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)

    cluster_scoped: ClassVar[bool] = True
