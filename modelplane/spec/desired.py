"""What a ModelDeployment wants: how many replicas, which replica template, how traffic is split.

One owner for each of these facts; the controllers, the API, the CLI (and the Kubernetes renderer,
later) import them from here instead of deriving them again. Pure: typed spec (and the scale status)
in, a value out.

- **Desired replicas** (`desired_replicas`): `spec.replicas`, or under `spec.autoscaling` the
  autoscaler's recommendation clamped to [minReplicas, maxReplicas]. The recommendation is the scale
  status the autoscaler writes in the deployment's `status.autoscaling.desiredReplicas` (HPA's
  `status.desiredReplicas`); until it has written one, the count is minReplicas.
- **Who may set the count** (`scale_refusal`): under autoscaling only the autoscaler does; a manual
  `scale` is refused (Kubernetes lets it through and the HPA overwrites it a sync later, which is worse:
  the change seems to work, then silently reverts).
- **The template hash** (`template_hash`): a short hash of the fields that make a replica
  (`TEMPLATE_FIELDS`, Kubernetes' pod-template-hash); a change to one is a new revision and a rollout.
- **The default traffic split** (`default_split`): without `spec.traffic`, each live version weighs as
  many replicas as it has live (a Kubernetes Service selects all of a deployment's pods, so during a
  rolling update old and new both serve); with none live, all of it goes to `model.version`.

Invariant: `replica_bounds(spec)[0] <= desired_replicas(spec, scale) <= replica_bounds(spec)[1]`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from modelplane.spec.autoscaling import Autoscaling
from modelplane.spec.bounds import MAX_REPLICAS
from modelplane.spec.deployment import ModelDeploymentSpec

TEMPLATE_FIELDS = (
    "model",
    "resources",
    "nodeSelector",
    "tolerations",
    "batching",
    "concurrency",
    "probes",
    "terminationGracePeriodSeconds",
)
"""The spec fields (as written in YAML) that make a replica (Kubernetes' pod template): a change to one
of them is a new revision and a rollout; any other field (replicas, strategy, ...) is not."""

SCALE_STATUS = "autoscaling"
"""The key of the deployment's status the autoscaler writes (`status.autoscaling`); the deployment
controller writes the rest of the status and carries this key over unchanged."""


class Sized(Protocol):
    """The fields that say how many replicas a deployment wants; a `ModelDeploymentSpec` is one."""

    @property
    def replicas(self) -> int: ...

    @property
    def autoscaling(self) -> Autoscaling | None: ...


@dataclass(frozen=True)
class Sizing:
    """The sizing fields of a stored spec, read without validating the whole spec again (~15 µs
    rather than ~300 µs: the endpoints table reads every deployment on each change)."""

    replicas: int = 1
    autoscaling: Autoscaling | None = None


def sizing_of(spec: Mapping[str, Any]) -> Sizing:
    """The sizing fields of a stored (already validated) spec; a ValueError when they are not valid."""
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
        raise ValueError(
            f"spec.replicas must be a whole number from 0 to {MAX_REPLICAS:,}; got {replicas!r}."
        )
    autoscaling = spec.get("autoscaling")
    return Sizing(replicas, Autoscaling.model_validate(autoscaling) if autoscaling is not None else None)


@dataclass(frozen=True)
class ScaleStatus:
    """`status.autoscaling` as the autoscaler writes it; only what sizing reads."""

    desired_replicas: int | None = None
    """The autoscaler's recommendation (HPA `status.desiredReplicas`); None until it has made one."""

    @classmethod
    def read(cls, status: Mapping[str, Any]) -> ScaleStatus:
        """The scale status in a deployment's `status`. Read leniently: a missing or malformed
        recommendation is no recommendation (the count falls back to minReplicas), never an error
        that would stop the deployment's reconcile."""
        written = status.get(SCALE_STATUS)
        desired = written.get("desiredReplicas") if isinstance(written, Mapping) else None
        if isinstance(desired, int) and not isinstance(desired, bool) and desired >= 0:
            return cls(desired_replicas=desired)
        return cls()


NO_SCALE = ScaleStatus()


def replica_bounds(spec: Sized) -> tuple[int, int]:
    """(fewest, most) replicas the deployment may run: [minReplicas, maxReplicas] under autoscaling,
    else [replicas, replicas]."""
    if spec.autoscaling is None:
        return spec.replicas, spec.replicas
    return spec.autoscaling.min_replicas, spec.autoscaling.max_replicas


def desired_replicas(spec: Sized, scale: ScaleStatus = NO_SCALE) -> int:
    """How many replicas the deployment wants now: spec.replicas; under autoscaling the autoscaler's
    recommendation clamped to [minReplicas, maxReplicas], or minReplicas before it has made one."""
    low, high = replica_bounds(spec)
    if spec.autoscaling is None or scale.desired_replicas is None:
        return low
    return min(max(scale.desired_replicas, low), high)


def awaited_replicas(spec: Sized) -> int | None:
    """How many replicas a request held by the router may wait for: spec.replicas (0: none will come,
    answer at once); None under autoscaling, where the autoscaler may add one on demand, from zero too."""
    return None if spec.autoscaling is not None else spec.replicas


def scale_refusal(spec: Sized, *, name: str, namespace: str, replicas: int) -> str | None:
    """Why `scale NAME --replicas N` must be refused, or None when it may set spec.replicas. Under
    autoscaling the autoscaler owns the count, so a manual one would be overwritten at its next
    decision; the message says which fields bound it instead."""
    if spec.autoscaling is None:
        return None
    low, high = replica_bounds(spec)
    if replicas == 0:
        example = "minReplicas: 0 lets it scale to zero when idle"
    else:
        example = (
            f"minReplicas: {replicas} keeps at least {replicas}; minReplicas and maxReplicas both "
            f"{replicas} keep exactly {replicas}"
        )
    return (
        f"ModelDeployment {name!r} (namespace {namespace}) is autoscaled between {low} and {high} "
        f"replicas (spec.autoscaling), so the autoscaler would overwrite a scale to {replicas}. Change "
        f"spec.autoscaling.minReplicas / maxReplicas in its file instead ({example}) and run "
        f"`modelplane apply -f FILE`; to set the count yourself, remove spec.autoscaling and set "
        f"replicas: {replicas}."
    )


def template_hash(spec: ModelDeploymentSpec) -> str:
    """A short hash of what makes a replica (`TEMPLATE_FIELDS`, as written in YAML): a change to one of
    them is a new revision (Kubernetes' pod-template-hash); replicas, strategy, traffic… are not.

    Hashes the fields as the API stores them (the spec's JSON dump), so a stored spec and its typed
    form give the same hash, and a default written out or left implicit does too."""
    dumped = spec.model_dump(mode="json", by_alias=True)
    template = {field: dumped.get(field) for field in TEMPLATE_FIELDS}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class Share(NamedTuple):
    """One version's weight in a traffic split (relative; the router normalises the sum)."""

    version: str
    weight: int


def default_split(version: str, live: Mapping[str, int]) -> list[Share]:
    """The split without `spec.traffic`: every live version weighted by its live replicas (`live`:
    version → count), in version order; with none live, all to `version` (model.version)."""
    shares = [Share(v, count) for v, count in sorted(live.items()) if count > 0]
    return shares or [Share(version, 100)]
