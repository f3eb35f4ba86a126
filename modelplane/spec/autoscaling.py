"""When to add and remove replicas: HorizontalPodAutoscaler v2 fields, defaults and limits.

Defaults as Kubernetes: minReplicas 1; no metrics means cpu at 80% of the request; `behavior` unset
means the legacy HPA rules, and each part of a given `behavior` defaults on its own (scale up: no
stabilisation, max of 4 replicas or 100% per 15 s; scale down: 300 s window, 100% per 15 s).
Differences: minReplicas may be 0 (scale to zero), and besides cpu and memory there are the
router-measured metrics `concurrency` (in-flight requests per replica) and `rps`, and `custom`: a
Prometheus series the replicas export.
Invariant: maxReplicas ≥ minReplicas ≥ 0.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from modelplane.spec.bounds import INT32_MAX, MAX_REPLICAS
from modelplane.spec.errors import FieldProblems
from modelplane.spec.meta import SpecModel


class MetricType(StrEnum):
    CONCURRENCY = "concurrency"
    RPS = "rps"
    CPU = "cpu"
    MEMORY = "memory"
    CUSTOM = "custom"


class ConcurrencyMetric(SpecModel):
    """Keep in-flight requests per replica (measured by the router) near `target`."""

    type: Literal["concurrency"]
    target: float = Field(gt=0)


class RpsMetric(SpecModel):
    """Keep requests per second per replica (measured by the router) near `target`."""

    type: Literal["rps"]
    target: float = Field(gt=0)


class CpuMetric(SpecModel):
    """Keep CPU use near `targetUtilization` % of the CPU request (needs resources.requests.cpu)."""

    type: Literal["cpu"]
    target_utilization: int = Field(default=80, ge=1, le=INT32_MAX)


class MemoryMetric(SpecModel):
    """Keep memory use near `targetUtilization` % of the memory request (needs resources.requests.memory)."""

    type: Literal["memory"]
    target_utilization: int = Field(default=80, ge=1, le=INT32_MAX)


class CustomMetric(SpecModel):
    """Keep a Prometheus series that each replica exports at its /metrics near `target` per replica
    (HPA's Pods metric with an AverageValue target). The series should be a gauge (a level, such as a
    queue depth); the samples of that name whose labels include `labels` are summed per replica."""

    type: Literal["custom"]
    series: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)
    """The metric name, as Prometheus writes it (`modelplane_server_inflight_requests`)."""
    labels: dict[str, str] = Field(default_factory=dict, max_length=20)
    """Only samples with these label values count (all samples of the series when empty)."""
    target: float = Field(gt=0, le=1e12)


Metric = Annotated[
    ConcurrencyMetric | RpsMetric | CpuMetric | MemoryMetric | CustomMetric, Field(discriminator="type")
]


class PolicyType(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


class ScalingPolicy(SpecModel):
    """At most `value` replicas (Pods) or `value`% (Percent) of change per `periodSeconds`."""

    type: PolicyType
    value: int = Field(gt=0, le=INT32_MAX)
    period_seconds: int = Field(gt=0, le=1800)


class ScalingRules(SpecModel):
    """Rate limits and stabilisation for one direction of scaling."""

    stabilization_window_seconds: int = Field(default=0, ge=0, le=3600)
    """Act on the most conservative recommendation of this many past seconds."""
    select_policy: SelectPolicy = SelectPolicy.MAX
    """Max: the policy allowing the biggest change; Min: the smallest; Disabled: no change this way."""
    policies: list[ScalingPolicy] = Field(min_length=1)
    """Each allows a change of `value` replicas (Pods) or percent (Percent) per `periodSeconds`."""


class ScaleUpRules(ScalingRules):
    """Scale-up rules; Kubernetes defaults: no window, max(4 replicas, 100%) per 15 s."""

    policies: list[ScalingPolicy] = Field(
        default_factory=lambda: [
            ScalingPolicy(type=PolicyType.PODS, value=4, period_seconds=15),
            ScalingPolicy(type=PolicyType.PERCENT, value=100, period_seconds=15),
        ],
        min_length=1,
    )


class ScaleDownRules(ScalingRules):
    """Scale-down rules; Kubernetes defaults: 300 s window, 100% per 15 s."""

    stabilization_window_seconds: int = Field(default=300, ge=0, le=3600)
    policies: list[ScalingPolicy] = Field(
        default_factory=lambda: [ScalingPolicy(type=PolicyType.PERCENT, value=100, period_seconds=15)],
        min_length=1,
    )


class Behavior(SpecModel):
    """HPA v2 `behavior`: scale-up and scale-down rules, each defaulted on its own."""

    scale_up: ScaleUpRules = Field(default_factory=ScaleUpRules)
    scale_down: ScaleDownRules = Field(default_factory=ScaleDownRules)


def _default_metrics() -> list[Metric]:
    return [CpuMetric(type="cpu", target_utilization=80)]


class Autoscaling(SpecModel):
    """Scale between minReplicas and maxReplicas on the highest replica count any metric asks for."""

    min_replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    """Fewest replicas; 0 lets an idle model scale to zero."""
    max_replicas: int = Field(ge=1, le=MAX_REPLICAS)
    """Most replicas."""
    metrics: list[Metric] = Field(default_factory=_default_metrics)
    """What to track; empty means cpu at 80% of the request, as Kubernetes."""
    behavior: Behavior | None = None
    """HPA v2 rate limits; unset means the legacy rules (×2 or +4 per sync up, 300 s window down)."""
    scale_to_zero_grace_period_seconds: int = Field(default=30, ge=0, le=3600)
    """With minReplicas 0: how long the last replica stays after the request metrics' stable window
    saw no request (Knative's scale-to-zero-grace-period, 30 s)."""

    @field_validator("metrics")
    @classmethod
    def _default_when_empty(cls, metrics: list[Metric]) -> list[Metric]:
        return metrics or _default_metrics()

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise FieldProblems.one(
                ("maxReplicas",),
                f"maxReplicas ({self.max_replicas}) is less than minReplicas ({self.min_replicas}); "
                f"raise maxReplicas to at least {self.min_replicas}.",
            )
        return self

    def metric_of(self, metric_type: MetricType) -> Metric | None:
        """The first metric of `metric_type`, if any."""
        return next((metric for metric in self.metrics if metric.type == metric_type), None)
