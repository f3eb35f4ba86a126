"""Where replicas may run: node-pool taints and the tolerations that admit replicas onto them.

Semantics are Kubernetes' (`ToleratesTaint`): an empty toleration key with `Exists` tolerates every
taint; an empty effect matches every effect; `Equal` also compares values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from modelplane.spec.bounds import INT32_MAX
from modelplane.spec.errors import FieldProblems
from modelplane.spec.meta import SpecModel, check_labels


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class TolerationOperator(StrEnum):
    EQUAL = "Equal"
    EXISTS = "Exists"


class Taint(SpecModel):
    """A mark on a node pool that keeps away replicas that do not tolerate it."""

    key: str
    """A label-style key such as `nvidia.com/gpu`."""
    value: str = ""
    effect: TaintEffect
    """NoSchedule (hard), PreferNoSchedule (soft) or NoExecute (also evicts running replicas)."""

    @field_validator("key")
    @classmethod
    def _key_is_label_key(cls, key: str) -> str:
        check_labels({key: ""})
        return key


class Toleration(SpecModel):
    """Allows a replica onto node pools with a matching taint."""

    key: str = ""
    """Taint key to match; empty with `operator: Exists` matches every taint."""
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: str = ""
    effect: TaintEffect | None = None
    """Taint effect to match; empty matches every effect."""
    toleration_seconds: int | None = Field(default=None, ge=-INT32_MAX - 1, le=INT32_MAX)
    """For NoExecute: how long a running replica stays after the taint appears; unset means forever."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.operator is TolerationOperator.EXISTS and self.value:
            raise FieldProblems.one(("value",), "must be empty when operator is Exists; remove value.")
        if not self.key and self.operator is not TolerationOperator.EXISTS:
            raise FieldProblems.one(
                ("operator",), "an empty key matches every taint only with operator: Exists; set key."
            )
        if self.toleration_seconds is not None and self.effect is not TaintEffect.NO_EXECUTE:
            raise FieldProblems.one(
                ("tolerationSeconds",), "only applies to effect: NoExecute; remove it or set that effect."
            )
        return self

    def tolerates(self, taint: Taint) -> bool:
        """Whether this toleration admits a replica onto a pool with `taint`."""
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        return self.operator is TolerationOperator.EXISTS or self.value == taint.value
