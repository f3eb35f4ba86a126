"""One autoscaler tick for one deployment: every metric of `spec.autoscaling` to a proposal, the
proposals to a replica count, and a sentence that says why (STYLE.md: every decision logged with its
inputs, `scaled sentiment 2→8: concurrency 31.5/replica vs target 4 (panic)`).

- Request metrics (`concurrency`, `rps`) take the fast path (`kpa`): the deployment's total over the
  stable (60 s) and panic (6 s) windows against `target` per replica. No tolerance band: any load asks
  for at least one replica.
- Resource metrics (`cpu`, `memory`) take HPA v2's replica calculator (`calculating`) over each
  replica's latest reading against its request.
- Scale to zero (minReplicas 0): when every request metric asks for none — the stable window saw no
  request at all — the last replica still stays `scaleToZeroGracePeriodSeconds` (30 s) more.
- Then HPA v2's controller rules (`hpa.decide`): the highest proposal, never down on partial data,
  stabilization and rate limits (only [min, max] for a winning fast-path proposal without `behavior`).

`plan(spec, observed, memory, now) -> (Plan, memory)`: pure; the caller keeps the memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelplane.autoscaler import hpa, kpa
from modelplane.autoscaler.calculating import (
    MetricUnavailable,
    Proposal,
    ReplicaState,
    Sample,
    plain_replicas,
    resource_replicas,
)
from modelplane.spec.autoscaling import (
    Autoscaling,
    ConcurrencyMetric,
    CpuMetric,
    CustomMetric,
    MemoryMetric,
    Metric,
    MetricType,
    RpsMetric,
)

REQUEST_METRICS = frozenset({MetricType.CONCURRENCY, MetricType.RPS})
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
"""A custom metric's series and its label filter (sorted)."""


def series_key(metric: CustomMetric) -> SeriesKey:
    return metric.series, tuple(sorted(metric.labels.items()))


@dataclass(frozen=True, slots=True)
class Windows:
    """A request metric over the deployment (summed over its replicas), averaged per second over the
    stable and the panic window; None: no reading yet (the router has reported nothing)."""

    stable: float | None
    panic: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """What the tick sees of one deployment."""

    current: int
    """The replica count the deployment wants now (spec/desired.py), HPA's scale.spec.replicas."""
    ready: int
    replicas: Sequence[ReplicaState] = ()
    usage: Mapping[MetricType, Mapping[str, Sample]] = field(default_factory=dict)
    """cpu (millicores) and memory (bytes x 1000) readings by replica name."""
    requests: Mapping[MetricType, Mapping[str, int | None]] = field(default_factory=dict)
    """Each replica's request, in the same units; None where it has none."""
    windows: Mapping[MetricType, Windows] = field(default_factory=dict)
    custom: Mapping[SeriesKey, Mapping[str, Sample]] = field(default_factory=dict)
    """Custom metrics' readings by (series, labels) and replica name, in milli-units."""
    concurrency_limit: int = 0
    """spec.concurrency (0: unlimited): what one replica carries at most, for the burst capacity."""


@dataclass(frozen=True, slots=True)
class Memory:
    hpa: hpa.Memory = field(default_factory=hpa.Memory)
    panics: Mapping[MetricType, kpa.Panic] = field(default_factory=dict)
    idle_since: float | None = None
    """When every request metric first asked for zero replicas (scale to zero waits a grace period)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One metric as the tick read it: its current value per replica against its target, and what it
    proposed (`proposal`) or why it could not (`error`)."""

    metric: MetricType
    current: float | None
    target: float
    unit: str
    proposal: int | None
    panicking: bool = False
    error: str | None = None
    series: str = ""
    """A custom metric's Prometheus series."""

    @property
    def name(self) -> str:
        """How the decision names it: the type, or a custom metric's series."""
        return self.series or self.metric.value


@dataclass(frozen=True, slots=True)
class Plan:
    current: int
    decision: hpa.Decision
    readings: tuple[Reading, ...]

    def summary(self, name: str) -> str:
        """`scaled sentiment 2→8: concurrency 31.5/replica vs target 4 (panic)`, or why it held."""
        decision = self.decision
        winner = next((r for r in self.readings if r.name == decision.metric), None)
        why = _describe(winner) if winner is not None else decision.reason or "no metric could be read"
        limited = next(
            (c for c in decision.conditions if c.type is hpa.ConditionType.SCALING_LIMITED and c.status),
            None,
        )
        if limited is not None:
            why += f"; limited: {limited.reason}"
        if decision.rescale:
            return f"scaled {name} {self.current}→{decision.replicas}: {why}"
        return f"kept {name} at {decision.replicas}: {why}"


def plan(spec: Autoscaling, observed: Observed, memory: Memory, now: float) -> tuple[Plan, Memory]:
    """One tick (see the module docstring)."""
    proposals: list[tuple[str, Proposal | MetricUnavailable]] = []
    readings: list[Reading] = []
    panics = dict(memory.panics)
    for metric in spec.metrics:
        kind = MetricType(metric.type)
        if kind in REQUEST_METRICS:
            reading, panic = _fast(metric, observed, panics.get(kind, kpa.Panic()), now)
            panics[kind] = panic
        elif kind is MetricType.CUSTOM:
            reading = _custom(metric, observed, now)
        else:
            reading = _resource(metric, observed, now)
        readings.append(reading)
        if reading.proposal is not None:
            proposals.append((reading.name, Proposal(reading.proposal, 0)))
        else:
            proposals.append((reading.name, MetricUnavailable(*_reason(reading))))
    idle_since = memory.idle_since
    demand = [r.current for r in readings if r.metric in REQUEST_METRICS]
    idle = bool(demand) and all(value == 0 for value in demand)  # no request in the stable window
    if not idle:
        idle_since = None
    elif idle_since is None:
        idle_since = now
    grace = spec.scale_to_zero_grace_period_seconds
    if idle_since is not None and observed.current > 0 and now - idle_since < grace:
        # the last replica stays through the grace period (Knative's scale-to-zero-grace-period)
        proposals = [
            (
                name,
                Proposal(max(1, p.replicas), p.current)
                if name in REQUEST_METRICS and isinstance(p, Proposal)
                else p,
            )
            for name, p in proposals
        ]
    fast = frozenset(kind.value for kind in REQUEST_METRICS)
    decision = hpa.decide(
        spec, current=observed.current, proposals=proposals, memory=memory.hpa, now=now, fast=fast
    )
    new_memory = Memory(decision.memory, panics, idle_since)
    return Plan(observed.current, decision, tuple(readings)), new_memory


def _fast(metric: Metric, observed: Observed, panic: kpa.Panic, now: float) -> tuple[Reading, kpa.Panic]:
    assert isinstance(metric, ConcurrencyMetric | RpsMetric)
    kind = MetricType(metric.type)
    unit = "in flight" if kind is MetricType.CONCURRENCY else "req/s"
    windows = observed.windows.get(kind)
    if windows is None or windows.stable is None or windows.panic is None:
        error = f"no {kind.value} readings from the router yet"
        return Reading(kind, None, metric.target, unit, None, error=error), panic
    total = (
        float(observed.concurrency_limit)
        if observed.concurrency_limit > 0
        else kpa.CONCURRENCY_TARGET_DEFAULT
    )
    decided = kpa.decide(
        ready=observed.ready,
        stable_value=windows.stable,
        panic_value=windows.panic,
        target=metric.target,
        total_per_replica=total if kind is MetricType.CONCURRENCY else metric.target / kpa.TARGET_UTILIZATION,
        memory=panic,
        now=now,
    )
    value = max(windows.stable, windows.panic) if decided.panicking else windows.stable
    per_replica = value / max(1, observed.ready)
    reading = Reading(kind, per_replica, metric.target, unit, decided.replicas, panicking=decided.panicking)
    return reading, decided.memory


def _custom(metric: Metric, observed: Observed, now: float) -> Reading:
    assert isinstance(metric, CustomMetric)
    samples = observed.custom.get(series_key(metric), {})
    unit = ""
    try:
        proposal = plain_replicas(
            observed.current,
            observed.replicas,
            samples,
            target_milli=max(1, round(metric.target * 1000)),
            metric=metric.series,
            now=now,
        )
    except MetricUnavailable as error:
        return Reading(
            MetricType.CUSTOM, None, metric.target, unit, None, error=error.message, series=metric.series
        )
    current = proposal.current / 1000
    return Reading(MetricType.CUSTOM, current, metric.target, unit, proposal.replicas, series=metric.series)


def _resource(metric: Metric, observed: Observed, now: float) -> Reading:
    assert isinstance(metric, CpuMetric | MemoryMetric)
    kind = MetricType(metric.type)
    try:
        proposal = resource_replicas(
            observed.current,
            observed.replicas,
            observed.usage.get(kind, {}),
            observed.requests.get(kind, {}),
            target_utilization=metric.target_utilization,
            resource=kind.value,
            now=now,
        )
    except MetricUnavailable as error:
        return Reading(kind, None, metric.target_utilization, "% of request", None, error=error.message)
    return Reading(kind, proposal.current, metric.target_utilization, "% of request", proposal.replicas)


def _reason(reading: Reading) -> tuple[str, str]:
    reason = "FailedGetResourceMetric" if reading.metric not in REQUEST_METRICS else "FailedGetPodsMetric"
    return reason, reading.error or "no reading"


def _describe(reading: Reading) -> str:
    if reading.current is None:
        return f"{reading.name}: {reading.error}"
    if reading.unit == "% of request":
        text = f"{reading.metric.value} {reading.current:g}% of request vs target {reading.target:g}%"
    else:
        value = _short(reading.current)
        unit = f" {reading.unit}" if reading.unit else ""
        text = f"{reading.name} {value}{unit}/replica vs target {reading.target:g}"
    return text + (" (panic)" if reading.panicking else "")


def _short(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else str(value)
