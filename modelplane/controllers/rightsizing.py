"""Right-sizing: requests and limits proposed from a deployment's observed usage (`modelplane recommend`).

Pure: the deployment's current resources and its usage samples in, a `Recommendation` out; `now` is an
argument, nothing is read or written. Each sample is one replica's reading, so percentiles are per
replica, as requests are. The rules follow the Kubernetes Vertical Pod Autoscaler's recommender
(pkg/recommender/logic: a usage percentile plus `--recommendation-margin-fraction` 0.15, floors of
`--pod-recommendation-min-cpu-millicores` 25 and `--pod-recommendation-min-memory-mb` 250), on the short
local history the store keeps (24 h at most) instead of VPA's decaying 8-day histograms:

- CPU request    = p95 of the CPU samples × 1.15, at least 25m, rounded up to 10m. (VPA targets p90; a
                   short window has few samples, so the higher percentile.)
- CPU limit      = max(2 × the proposed request, peak × 1.5), rounded up to 10m, and only when the
                   deployment sets a CPU limit now: CPU over a limit is throttled, never killed, so an
                   absent limit stays absent (as VPA leaves it), and a present one leaves room for bursts.
- Memory request = peak × 1.15, at least 250Mi, rounded up to 1Mi. (VPA takes the peak of each 24 h
                   interval; the window is at most one.)
- Memory limit   = max(the proposed request, peak × 1.5), rounded up to 1Mi: memory over the limit is an
                   OOM kill, so half the peak again as headroom; proposed even where none is set now.

Verdicts, per resource: `not enough data` under `MIN_SAMPLES` samples in the window; `under-provisioned`
when nothing is requested, when the request is below the p95 (CPU) or the peak (memory), or when the
peak reaches 90 % of the limit (throttling; an OOM kill near); `over-provisioned` when the request is
more than `OVER_FACTOR` × the proposed request; `ok` otherwise. GPUs are whole devices and never
resized. The proposed `resources:` block keeps the GPUs, and the current values of a resource without
enough data, so it can be pasted as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, Protocol

from modelplane.spec import ResourceRequirements, format_cpu, format_memory

SAFETY_MARGIN: Final = Fraction(15, 100)
"""Added to the usage a request is sized for (VPA's `--recommendation-margin-fraction`)."""
LIMIT_HEADROOM: Final = Fraction(50, 100)
"""A proposed limit is the peak plus this much of it."""
CPU_BURST: Final = 2
"""A proposed CPU limit is at least this many times the proposed CPU request."""


class UsageSample(Protocol):
    """One replica's reading, as the store's `UsageSample` carries it (a structural type, so this pure
    module does not import the store); a resource nobody could measure is None."""

    @property
    def replica(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def cpu_millis(self) -> int | None: ...
    @property
    def memory_bytes(self) -> int | None: ...


PERCENTILE: Final = 95
"""Shown for both resources; CPU requests are sized on it (memory requests on the peak)."""
MIN_CPU_MILLIS: Final = 25
MIN_MEMORY_BYTES: Final = 250 << 20
CPU_QUANTUM_MILLIS: Final = 10
MEMORY_QUANTUM_BYTES: Final = 1 << 20
MIN_SAMPLES: Final = 3
OVER_FACTOR: Final = 2
"""A request more than this many times the proposed one is over-provisioned."""
NEAR_LIMIT: Final = Fraction(9, 10)
"""A peak at this fraction of the limit or more is under-provisioned (throttled, or near an OOM kill)."""


class Resource(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


class Verdict(StrEnum):
    OVER_PROVISIONED = "over-provisioned"
    UNDER_PROVISIONED = "under-provisioned"
    OK = "ok"
    NOT_ENOUGH_DATA = "not enough data"


def format_amount(resource: Resource, amount: int | None, *, observed: bool = False) -> str | None:
    """Kubernetes quantity text: millicores as `25m` / `2`, bytes as `250Mi` / `2Gi` / `1G`; an observed
    amount of memory is rounded up to 1Mi first (`151Mi`, not `158003200`)."""
    if amount is None:
        return None
    if resource is Resource.CPU:
        return format_cpu(amount)
    return format_memory(_round_up(amount, MEMORY_QUANTUM_BYTES) if observed else amount)


@dataclass(frozen=True)
class ResourceAdvice:
    """One resource of one deployment: what was observed, what is set, what is proposed, and why."""

    resource: Resource
    samples: int
    window_s: float
    peak: int | None
    p95: int | None
    request: int | None
    limit: int | None
    proposed_request: int | None
    proposed_limit: int | None
    verdict: Verdict
    reason: str

    def to_json(self) -> dict[str, Any]:
        def text(amount: int | None, *, observed: bool = False) -> str | None:
            return format_amount(self.resource, amount, observed=observed)

        return {
            "resource": str(self.resource),
            "samples": self.samples,
            "windowSeconds": round(self.window_s, 1),
            "p95": text(self.p95, observed=True),
            "peak": text(self.peak, observed=True),
            "request": text(self.request),
            "limit": text(self.limit),
            "proposedRequest": text(self.proposed_request),
            "proposedLimit": text(self.proposed_limit),
            "verdict": str(self.verdict),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Recommendation:
    """A deployment's advice per resource, and the `resources:` block to paste (None without data)."""

    namespace: str
    deployment: str
    samples: int
    replicas: int
    window_s: float
    resources: tuple[ResourceAdvice, ...]
    proposed: dict[str, dict[str, Any]] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "deployment": self.deployment,
            "samples": self.samples,
            "replicas": self.replicas,
            "windowSeconds": round(self.window_s, 1),
            "resources": [advice.to_json() for advice in self.resources],
            "proposed": self.proposed,
        }


def recommend(
    *,
    namespace: str,
    deployment: str,
    resources: ResourceRequirements,
    samples: Sequence[UsageSample],
    now: float,
    window_s: float | None = None,
) -> Recommendation:
    """Advice for `deployment` from its samples taken in the last `window_s` seconds (None: all)."""
    since = -math.inf if window_s is None else now - window_s
    kept = [s for s in samples if since <= s.at <= now]
    current = resources.defaulted()
    cpu = advise(
        Resource.CPU,
        [(s.at, s.cpu_millis) for s in kept if s.cpu_millis is not None],
        request=current.requests.cpu.millis if current.requests.cpu is not None else None,
        limit=current.limits.cpu.millis if current.limits.cpu is not None else None,
    )
    memory = advise(
        Resource.MEMORY,
        [(s.at, s.memory_bytes) for s in kept if s.memory_bytes is not None],
        request=current.requests.memory.bytes if current.requests.memory is not None else None,
        limit=current.limits.memory.bytes if current.limits.memory is not None else None,
    )
    return Recommendation(
        namespace=namespace,
        deployment=deployment,
        samples=len(kept),
        replicas=len({s.replica for s in kept}),
        window_s=_span([s.at for s in kept]),
        resources=(cpu, memory),
        proposed=proposed_block(current, (cpu, memory)),
    )


def advise(
    resource: Resource, readings: Sequence[tuple[float, int]], *, request: int | None, limit: int | None
) -> ResourceAdvice:
    """The advice for one resource from its (time, amount) readings and its current request and limit."""
    values = [amount for _, amount in readings]
    window = _span([at for at, _ in readings])
    peak = max(values) if values else None
    p95 = percentile(values, PERCENTILE) if values else None
    if peak is None or p95 is None or len(values) < MIN_SAMPLES:
        reason = (
            f"not enough data: {len(values)} sample{'' if len(values) == 1 else 's'} over {window:.0f} s; "
            "let it serve for a few minutes"
        )
        return ResourceAdvice(
            resource=resource,
            samples=len(values),
            window_s=window,
            peak=peak,
            p95=p95,
            request=request,
            limit=limit,
            proposed_request=None,
            proposed_limit=None,
            verdict=Verdict.NOT_ENOUGH_DATA,
            reason=reason,
        )
    if resource is Resource.CPU:
        proposed_request = _at_least(p95 * (1 + SAFETY_MARGIN), MIN_CPU_MILLIS, CPU_QUANTUM_MILLIS)
        burst = max(Fraction(CPU_BURST * proposed_request), peak * (1 + LIMIT_HEADROOM))
        proposed_limit = None if limit is None else _round_up(burst, CPU_QUANTUM_MILLIS)
    else:
        proposed_request = _at_least(peak * (1 + SAFETY_MARGIN), MIN_MEMORY_BYTES, MEMORY_QUANTUM_BYTES)
        headroom = max(Fraction(proposed_request), peak * (1 + LIMIT_HEADROOM))
        proposed_limit = _round_up(headroom, MEMORY_QUANTUM_BYTES)
    verdict, reason = judge(
        resource, request=request, limit=limit, p95=p95, peak=peak, proposed_request=proposed_request
    )
    return ResourceAdvice(
        resource=resource,
        samples=len(values),
        window_s=window,
        peak=peak,
        p95=p95,
        request=request,
        limit=limit,
        proposed_request=proposed_request,
        proposed_limit=proposed_limit,
        verdict=verdict,
        reason=reason,
    )


def judge(
    resource: Resource, *, request: int | None, limit: int | None, p95: int, peak: int, proposed_request: int
) -> tuple[Verdict, str]:
    """The verdict on the current request and limit, and a sentence that says why."""

    def text(amount: int, *, observed: bool = False) -> str | None:
        return format_amount(resource, amount, observed=observed)

    if request is None:
        return Verdict.UNDER_PROVISIONED, (
            f"no {resource} request: nothing is reserved for the replicas, which the others may starve; "
            f"request {text(proposed_request)}"
        )
    used, which = (p95, "p95") if resource is Resource.CPU else (peak, "peak")
    if used > request:
        return Verdict.UNDER_PROVISIONED, (
            f"{which} usage {text(used, observed=True)} is above the request {text(request)}: the replicas "
            "use more than is reserved for them"
        )
    if limit is not None and peak >= NEAR_LIMIT * limit:
        outcome = "throttled" if resource is Resource.CPU else "near an OOM kill"
        return Verdict.UNDER_PROVISIONED, (
            f"peak usage {text(peak, observed=True)} is {peak / limit:.0%} of the limit {text(limit)}: "
            f"{outcome}"
        )
    ratio = request / proposed_request
    if ratio > OVER_FACTOR:
        return Verdict.OVER_PROVISIONED, (
            f"the request {text(request)} is {_times(ratio)} the proposed {text(proposed_request)}: "
            f"{text(request - proposed_request)} per replica is reserved and not used"
        )
    return Verdict.OK, (
        f"the request {text(request)} is within {OVER_FACTOR}× of the proposed {text(proposed_request)}"
    )


def proposed_block(
    current: ResourceRequirements, advice: Sequence[ResourceAdvice]
) -> dict[str, dict[str, Any]] | None:
    """The `resources:` block to paste: proposals where there was enough data, else what is set now."""
    sized = [a for a in advice if a.verdict is not Verdict.NOT_ENOUGH_DATA]
    if not sized:
        return None
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for resource in Resource:
        own = next((a for a in sized if a.resource is resource), None)
        now_request = getattr(current.requests, resource.value)
        now_limit = getattr(current.limits, resource.value)
        request = format_amount(resource, own.proposed_request) if own else now_request
        limit = format_amount(resource, own.proposed_limit) if own else now_limit
        if request is not None:
            requests[resource.value] = str(request)
        if limit is not None:
            limits[resource.value] = str(limit)
    if current.requests.gpu is not None:
        requests["gpu"] = current.requests.gpu
    if current.limits.gpu is not None:
        limits["gpu"] = current.limits.gpu
    return {"requests": requests, "limits": limits}


def percentile(values: Sequence[int], percent: int) -> int:
    """The nearest-rank percentile: the smallest value with at least `percent` % of values at or below."""
    ordered = sorted(values)
    rank = max(-(-percent * len(ordered) // 100), 1)
    return ordered[rank - 1]


def _at_least(amount: Fraction, floor: int, quantum: int) -> int:
    return max(_round_up(amount, quantum), floor)


def _round_up(amount: Fraction | int, quantum: int) -> int:
    return math.ceil(Fraction(amount) / quantum) * quantum


def _span(times: Sequence[float]) -> float:
    return max(times) - min(times) if times else 0.0


def _times(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
