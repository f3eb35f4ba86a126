"""The four kinds of object, by name: the one place that lists them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelplane.spec.deployment import ModelDeployment
from modelplane.spec.job import Job
from modelplane.spec.namespace import Namespace
from modelplane.spec.nodepool import NodePool

SpecObject = Namespace | NodePool | ModelDeployment | Job
"""Any object a spec file may declare."""

AnySpecObject = Annotated[SpecObject, Field(discriminator="kind")]
"""A SpecObject told apart by its `kind` (for TypeAdapter and JSON Schema)."""

KINDS: dict[str, type[SpecObject]] = {
    "Namespace": Namespace,
    "NodePool": NodePool,
    "ModelDeployment": ModelDeployment,
    "Job": Job,
}
