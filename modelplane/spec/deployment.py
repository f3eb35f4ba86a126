"""ModelDeployment: a model served by replicas behind one endpoint, scaled and rolled out declaratively.

Invariants after validation: `spec.model.uri` is set unless the format needs no file (simulated, or
sentence-transformers with the packaged all-MiniLM-L6-v2); `spec.traffic`, when given, names distinct
versions, one of them `spec.model.version`, with weights summing to 100 (other versions must be live
revisions — the control plane checks that on apply); a cpu/memory autoscaling metric has the request
it is measured against; progressDeadlineSeconds > minReadySeconds.
"""

from __future__ import annotations

import posixpath
import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from modelplane.spec.autoscaling import Autoscaling, MetricType
from modelplane.spec.bounds import (
    INT32_MAX,
    MAX_BATCH_LATENCY_MS,
    MAX_REPLICAS,
    check_params,
    check_params_size,
)
from modelplane.spec.errors import FieldPath, FieldProblems
from modelplane.spec.meta import Labels, Object, SpecModel
from modelplane.spec.placement import Toleration
from modelplane.spec.probes import Probes
from modelplane.spec.quantities import IntOrPercent
from modelplane.spec.resources import ResourceRequirements, Resources
from modelplane.spec.strategy import Strategy

_VERSION = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in a model.uri: refused (NUL breaks every path call)


def check_version(version: str) -> str:
    """`version` if it can name a version in URLs and labels (`v2`, `1.0.3`); else a ValueError."""
    if len(version) <= 63 and _VERSION.fullmatch(version):
        return version
    raise ValueError(
        f"{version!r} is not a valid version: use at most 63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit, e.g. 'v2' or '1.0.3'."
    )


Version = Annotated[str, AfterValidator(check_version)]


class ModelFormat(StrEnum):
    """How the model server loads `spec.model.uri`."""

    SKLEARN = "sklearn"
    ONNX = "onnx"
    TORCH = "torch"
    SENTENCE_TRANSFORMERS = "sentence-transformers"
    PYTHON = "python"
    SIMULATED = "simulated"


FORMATS_WITHOUT_URI = frozenset({ModelFormat.SIMULATED, ModelFormat.SENTENCE_TRANSFORMERS})


def model_path(uri: str, format: ModelFormat) -> str | None:
    """The file path in `uri`, or None when it names no file: a URL (`s3://…`), or for python a module
    (`package.module:Class`); for python `file.py:Class` the path is `file.py`."""
    if "://" in uri:
        return None
    if format is ModelFormat.PYTHON:
        target, sep, _ = uri.rpartition(":")
        return target if sep and (target.endswith(".py") or "/" in target) else None
    return uri


def escaping_path(uri: str, format: ModelFormat) -> str | None:
    """The path of `uri` if it is relative and leaves its folder (`../x`, `a/../../x`), else None.
    Decided on the text as written, so it is the same wherever the spec is validated; absolute and
    `~` paths are the user's explicit choice."""
    path = model_path(uri, format)
    if path is None or path.startswith(("/", "~")):
        return None
    normal = posixpath.normpath(path)
    return path if normal == ".." or normal.startswith("../") else None


class ModelSource(SpecModel):
    """Which model to serve and how to load it."""

    uri: str | None = None
    """Where the model is: a local path (relative to the spec file, inside its folder; an absolute
    path anywhere), or `file.py:Class` for python."""
    format: ModelFormat
    """sklearn | onnx | torch | sentence-transformers | python | simulated."""
    version: Version = "v1"
    """The version this spec deploys; traffic splits and `/versions/{v}` URLs name it."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Free settings handed to the loader, e.g. `{latencyMs: 20}` for simulated."""

    @field_validator("params")
    @classmethod
    def _bounded_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params)
        check_params_size(params)
        return params

    @model_validator(mode="after")
    def _uri_when_needed(self) -> Self:
        if self.uri is not None and not self.uri.strip():
            raise FieldProblems.one(("uri",), "must not be empty; give the model's path or remove uri.")
        if self.uri is not None and (control := _CONTROL.search(self.uri)) is not None:
            # a NUL made resolving the path raise (a 500 from apply); no file name needs one
            raise FieldProblems.one(
                ("uri",),
                f"holds the control character {control.group()!r}; write the path without it.",
            )
        if self.uri is not None and (path := escaping_path(self.uri, self.format)) is not None:
            raise FieldProblems.one(
                ("uri",),
                f"{path!r} leaves the folder of the spec file; a relative uri must stay inside it, so that "
                "a spec file reaches only the files beside it. If you mean that file, write its absolute "
                "path (e.g. /srv/models/sentiment.skops or ~/models/sentiment.skops).",
            )
        if self.uri is None and self.format not in FORMATS_WITHOUT_URI:
            raise FieldProblems.one(
                ("uri",),
                f"format {self.format} needs a uri, e.g. uri: ./models/sentiment "
                "(only simulated and sentence-transformers may omit it).",
            )
        return self


class Batching(SpecModel):
    """Merge concurrent requests into one model call of up to maxBatchSize rows."""

    max_batch_size: int = Field(default=32, ge=1, le=INT32_MAX)
    """Most rows per model call."""
    max_latency_ms: float = Field(default=5, ge=0, le=MAX_BATCH_LATENCY_MS)
    """Longest a request waits for others to join its batch; at most the router's request timeout."""


class TrafficTarget(SpecModel):
    """A share of traffic for one live version."""

    version: Version
    weight: int = Field(ge=0, le=100)
    """Percent of requests; the weights of all entries sum to 100."""


class DisruptionBudget(SpecModel):
    """How many replicas voluntary disruptions (drains, node-pool changes) must leave running; set one."""

    min_available: IntOrPercent | None = None
    """Replicas that must stay available: a count, or a % of desired replicas (rounded up)."""
    max_unavailable: IntOrPercent | None = None
    """Replicas that may be down at once: a count, or a % of desired replicas (rounded up)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise FieldProblems.one(
                (),
                "set exactly one of minAvailable and maxUnavailable, e.g. {minAvailable: 1} "
                "or {maxUnavailable: 25%}.",
            )
        for name, value in (("minAvailable", self.min_available), ("maxUnavailable", self.max_unavailable)):
            if value is not None and value.percent and value.value > 100:
                raise FieldProblems.one((name,), f"must be at most 100%; got {value}.")
        return self


class ModelDeploymentSpec(SpecModel):
    """The desired state of a served model."""

    model: ModelSource
    image: str | None = None
    """Container image of the model server; used on Kubernetes only."""
    resources: Resources = Field(default_factory=ResourceRequirements)
    """Per replica. Requests default to limits."""
    node_selector: Labels = Field(default_factory=dict)
    """Run only on node pools with these labels."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Allow node pools with matching taints (e.g. GPU pools)."""
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    """Desired replicas; ignored when autoscaling is set."""
    autoscaling: Autoscaling | None = None
    batching: Batching | None = None
    """Dynamic batching; off when omitted."""
    concurrency: int | None = Field(default=None, ge=1, le=INT32_MAX)
    """Most in-flight requests per replica; more wait in the router's queue. Unset = no limit."""
    probes: Probes = Field(default_factory=Probes)
    strategy: Strategy = Field(default_factory=Strategy)
    traffic: list[TrafficTarget] = Field(default_factory=list)
    """Explicit split between live versions (A/B); empty = all traffic to model.version."""
    disruption_budget: DisruptionBudget | None = None
    """Like a PodDisruptionBudget; none when omitted."""
    revision_history_limit: int = Field(default=10, ge=0, le=INT32_MAX)
    """Old versions kept for rollback."""
    min_ready_seconds: int = Field(default=0, ge=0, le=INT32_MAX)
    """A replica counts as available after being ready this long."""
    paused: bool = False
    """A paused deployment does not roll out template changes (`modelplane rollout pause`)."""
    termination_grace_period_seconds: int = Field(default=30, ge=0, le=INT32_MAX)
    """Seconds a stopping replica gets to finish in-flight requests before it is killed."""

    @field_validator("traffic")
    @classmethod
    def _split(cls, traffic: list[TrafficTarget]) -> list[TrafficTarget]:
        problems: list[tuple[FieldPath, str]] = []
        seen: set[str] = set()
        for index, target in enumerate(traffic):
            if target.version in seen:
                problems.append(
                    ((index, "version"), f"version {target.version!r} is listed twice; list it once.")
                )
            seen.add(target.version)
        total = sum(target.weight for target in traffic)
        if traffic and total != 100:
            weights = " + ".join(str(target.weight) for target in traffic)
            problems.append(((), f"traffic weights must sum to 100; they sum to {total} ({weights})."))
        if problems:
            raise FieldProblems(problems)
        return traffic

    @model_validator(mode="after")
    def _cross_field(self) -> Self:
        problems = self._traffic_problems() + self._metric_problems()
        if self.strategy.progress_deadline_seconds <= self.min_ready_seconds:
            problems.append(
                (
                    ("strategy", "progressDeadlineSeconds"),
                    f"must be more than minReadySeconds ({self.min_ready_seconds}), or no rollout "
                    "could ever succeed.",
                )
            )
        if problems:
            raise FieldProblems(problems)
        return self

    def _traffic_problems(self) -> list[tuple[FieldPath, str]]:
        versions = [target.version for target in self.traffic]
        if not self.traffic or self.model.version in versions:
            return []
        return [
            (
                ("traffic",),
                f"the split names {', '.join(versions)} but not model.version "
                f"{self.model.version!r}, the version this spec deploys. Add "
                f"{{version: {self.model.version}, weight: N}}.",
            )
        ]

    def _metric_problems(self) -> list[tuple[FieldPath, str]]:
        if self.autoscaling is None:
            return []
        problems: list[tuple[FieldPath, str]] = []
        requests = self.resources.requests
        for index, metric in enumerate(self.autoscaling.metrics):
            for metric_type, request in (
                (MetricType.CPU, requests.cpu),
                (MetricType.MEMORY, requests.memory),
            ):
                if metric.type == metric_type and request is None:
                    where: FieldPath = ("autoscaling", "metrics", index)
                    if "metrics" not in self.autoscaling.model_fields_set:
                        where = ("autoscaling",)
                    problems.append(
                        (
                            where,
                            f"{metric_type} utilization is measured against the {metric_type} request; "
                            f"set resources.requests.{metric_type} (or limits), or use another metric, "
                            "e.g. metrics: [{type: concurrency, target: 4}].",
                        )
                    )
        return problems


class ModelDeployment(Object):
    """A model served by one or more replicas behind one endpoint."""

    kind: Literal["ModelDeployment"] = "ModelDeployment"
    spec: ModelDeploymentSpec

    cluster_scoped: ClassVar[bool] = False
