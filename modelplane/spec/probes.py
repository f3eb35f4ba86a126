"""Health probes of a replica, with Kubernetes' fields, defaults and limits (`SetDefaults_Probe`).

The model server has fixed health endpoints, so a probe here has no handler: startup and readiness
call `GET /v2/health/ready`, liveness calls `GET /v2/health/live`. Defaults 0/10/1/1/3 as Kubernetes;
liveness and startup must have successThreshold 1, as the Kubernetes API requires.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from modelplane.spec.bounds import INT32_MAX
from modelplane.spec.errors import FieldPath, FieldProblems
from modelplane.spec.meta import SpecModel


class Probe(SpecModel):
    """When and how often to probe, and how many results in a row flip the state."""

    initial_delay_seconds: int = Field(default=0, ge=0, le=INT32_MAX)
    """Seconds after the replica starts before the first probe."""
    period_seconds: int = Field(default=10, ge=1, le=INT32_MAX)
    """Seconds between probes."""
    timeout_seconds: int = Field(default=1, ge=1, le=INT32_MAX)
    """A probe slower than this is a failure."""
    success_threshold: int = Field(default=1, ge=1, le=INT32_MAX)
    """Successes in a row that make a failing probe pass; must be 1 for liveness and startup."""
    failure_threshold: int = Field(default=3, ge=1, le=INT32_MAX)
    """Failures in a row that make a passing probe fail."""


class Probes(SpecModel):
    """Startup (off unless given), readiness and liveness (on by default); null turns one off."""

    startup: Probe | None = None
    """Holds liveness and readiness back until the model has loaded; budget ≈ failureThreshold × period."""
    readiness: Probe | None = Field(default_factory=Probe)
    """A failing replica gets no traffic; it is not restarted."""
    liveness: Probe | None = Field(default_factory=Probe)
    """A failing replica is restarted."""

    @model_validator(mode="after")
    def _success_threshold_one(self) -> Self:
        problems: list[tuple[FieldPath, str]] = [
            (
                (name, "successThreshold"),
                f"must be 1 for {name} probes (got {probe.success_threshold}); "
                "only readiness may ask for several successes in a row.",
            )
            for name, probe in (("startup", self.startup), ("liveness", self.liveness))
            if probe is not None and probe.success_threshold != 1
        ]
        if problems:
            raise FieldProblems(problems)
        return self
