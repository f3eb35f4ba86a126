"""Job: work that runs to completion (training, batch inference, data loading), as a batch/v1 Job.

Defaults as Kubernetes: completions 1, parallelism 1, backoffLimit 6, no activeDeadlineSeconds, no
TTL, terminationGracePeriodSeconds 30. Difference: restartPolicy defaults to Never (Kubernetes has no
default and requires Never or OnFailure).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from modelplane.spec.bounds import INT32_MAX, MAX_COMPLETIONS, MAX_REPLICAS
from modelplane.spec.errors import FieldPath, FieldProblems
from modelplane.spec.meta import Labels, Object, SpecModel
from modelplane.spec.placement import Toleration
from modelplane.spec.resources import ResourceRequirements, Resources


class RestartPolicy(StrEnum):
    NEVER = "Never"
    ON_FAILURE = "OnFailure"


class JobSpec(SpecModel):
    """What to run, with which resources, and how often to retry."""

    command: list[str] = Field(min_length=1)
    """The program and its arguments, e.g. [python, train.py]."""
    image: str | None = None
    """Container image; used on Kubernetes only."""
    working_dir: str | None = None
    """Directory to run in; locally defaults to the spec file's folder."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables."""
    resources: Resources = Field(default_factory=ResourceRequirements)
    node_selector: Labels = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    completions: int = Field(default=1, ge=1, le=MAX_COMPLETIONS)
    """Successful runs needed for the job to be complete; at most 100,000, unlike Kubernetes (which
    bounds only Indexed Jobs): every finished run stays named in `status.countedReplicas`."""
    parallelism: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    """Runs at once."""
    backoff_limit: int = Field(default=6, ge=0, le=INT32_MAX)
    """Failed runs allowed before the job fails."""
    active_deadline_seconds: int | None = Field(default=None, ge=1, le=INT32_MAX)
    """Fail the job after running this long; unset = no limit."""
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=INT32_MAX)
    """Delete the finished job after this long; unset = keep it."""
    restart_policy: RestartPolicy = RestartPolicy.NEVER
    """Never: a failed run is replaced by a new one; OnFailure: restarted in place."""
    termination_grace_period_seconds: int = Field(default=30, ge=0, le=INT32_MAX)

    @model_validator(mode="after")
    def _startable(self) -> Self:
        """Refuse what no process can be started with (Python raises ValueError, not OSError, at the
        start): a NUL in the command, working directory or an env value; an env name that is empty or
        holds '=' or a NUL (Kubernetes refuses those names too)."""
        nul = "holds a NUL character (control character '\\x00'); remove it."
        problems: list[tuple[FieldPath, str]] = [
            (("command", i), nul) for i, part in enumerate(self.command) if "\x00" in part
        ]
        if self.working_dir is not None and "\x00" in self.working_dir:
            problems.append((("workingDir",), nul))
        for name, value in self.env.items():
            if not name or "=" in name or "\x00" in name:
                problems.append(
                    (
                        ("env",),
                        f"{name!r} is not an environment variable name: it must be non-empty, "
                        "without '=' or NUL (e.g. SEED or my.var).",
                    )
                )
            elif "\x00" in value:
                problems.append((("env", name), nul))
        if problems:
            raise FieldProblems(problems)
        return self


class Job(Object):
    """A batch job that runs to completion."""

    kind: Literal["Job"] = "Job"
    spec: JobSpec

    cluster_scoped: ClassVar[bool] = False
