"""How a new model version replaces the old one: RollingUpdate, Recreate or Canary.

Defaults as a Kubernetes Deployment (maxSurge 25%, maxUnavailable 25%, progressDeadlineSeconds 600)
and Argo Rollouts for canaries. Differences, on purpose: `autoRollback` (default true) returns all
traffic to the previous version when a rollout fails its analysis or deadline — Kubernetes has no such
field and keeps trying. Invariants: maxSurge and maxUnavailable are not both 0; maxUnavailable ≤ 100%;
canary weights lie in 0..100 and strictly increase.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from modelplane.spec.bounds import INT32_MAX
from modelplane.spec.errors import FieldPath, FieldProblems
from modelplane.spec.meta import SpecModel
from modelplane.spec.quantities import Duration, IntOrPercent


class StrategyType(StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"
    CANARY = "Canary"


class RollingUpdate(SpecModel):
    """How far a rollout may go above and below the desired replica count."""

    max_surge: IntOrPercent = IntOrPercent(25, percent=True)
    """Extra replicas allowed during a rollout: a count or a % of replicas (rounded up)."""
    max_unavailable: IntOrPercent = IntOrPercent(25, percent=True)
    """Replicas that may be unavailable during a rollout: a count or a % (rounded down)."""

    @model_validator(mode="after")
    def _can_progress(self) -> Self:
        if self.max_unavailable.percent and self.max_unavailable.value > 100:
            raise FieldProblems.one(("maxUnavailable",), f"must be at most 100%; got {self.max_unavailable}.")
        if self.max_surge.value == 0 and self.max_unavailable.value == 0:
            raise FieldProblems.one(
                ("maxUnavailable",),
                "maxSurge and maxUnavailable are both 0, so a rollout could never replace a replica. "
                "Set maxUnavailable: 1 (e.g. when GPUs leave no room for a surge replica) or maxSurge: 1.",
            )
        return self


class CanaryStep(SpecModel):
    """Send `weight`% of traffic to the new version, then wait `pause` while the analysis watches."""

    weight: int = Field(ge=0, le=100)
    """Percent of traffic for the new version at this step."""
    pause: Duration = 0.0
    """How long to hold this step before the next: `30s`, `5m`, `1h30m` or seconds; 0 = move on at once."""


class CanaryAnalysis(SpecModel):
    """What makes a canary fail; checked at every step once enough requests have been seen."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Highest acceptable fraction of failed (5xx) requests to the new version, e.g. 0.01 = 1%."""
    max_p99_latency_ms: float | None = Field(default=None, gt=0)
    """Highest acceptable p99 latency of the new version in ms; unset = not checked."""
    min_requests: int = Field(default=100, ge=0, le=INT32_MAX)
    """Requests the new version must have served before a step's verdict counts."""


class Canary(SpecModel):
    """Steps of a canary rollout; after the last step the new version takes 100%."""

    steps: list[CanaryStep] = Field(min_length=1)
    analysis: CanaryAnalysis = Field(default_factory=CanaryAnalysis)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[CanaryStep]) -> list[CanaryStep]:
        problems: list[tuple[FieldPath, str]] = [
            (
                (index, "weight"),
                f"canary weights must increase from step to step; step {index + 1} has "
                f"{step.weight} after {steps[index - 1].weight}. Order the steps by weight, "
                f"e.g. [10, 50].",
            )
            for index, step in enumerate(steps)
            if index > 0 and step.weight <= steps[index - 1].weight
        ]
        if problems:
            raise FieldProblems(problems)
        return steps


class Strategy(SpecModel):
    """How to replace replicas of the old version with the new one."""

    type: StrategyType = StrategyType.ROLLING_UPDATE
    """RollingUpdate (replace a few at a time), Recreate (stop all, then start all), Canary (by weight)."""
    rolling_update: RollingUpdate = Field(default_factory=RollingUpdate)
    """Surge and unavailability limits, used by RollingUpdate and Canary."""
    canary: Canary | None = None
    """Steps and analysis; required when type is Canary, kept but unused otherwise."""
    progress_deadline_seconds: int = Field(default=600, ge=1, le=INT32_MAX)
    """A rollout that makes no progress for this long has failed (ProgressDeadlineExceeded)."""
    auto_rollback: bool = True
    """On failure, send all traffic back to the previous version (no Kubernetes counterpart)."""

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        if self.type is StrategyType.RECREATE and "rolling_update" in self.model_fields_set:
            raise FieldProblems.one(
                ("rollingUpdate",), "does not apply when type is Recreate; remove rollingUpdate."
            )
        if self.type is StrategyType.CANARY and self.canary is None:
            raise FieldProblems.one(
                ("canary",),
                "type Canary needs canary steps, e.g. canary: {steps: [{weight: 10, pause: 30s}, "
                "{weight: 50, pause: 1m}]}.",
            )
        return self

    @model_serializer(mode="wrap")
    def _no_rolling_update_for_recreate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """As Kubernetes defaults it, a Recreate strategy has no rollingUpdate: without this, the dumped
        (stored) spec would carry the default and fail `_fits_type` when read back."""
        data: dict[str, Any] = handler(self)
        if self.type is StrategyType.RECREATE:
            data.pop("rollingUpdate", None)
            data.pop("rolling_update", None)
        return data
