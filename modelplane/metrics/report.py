"""The router's report to the control plane (`POST /api/v1/metrics/router`), once a second.

One report covers the `intervalSeconds` since the router's last accepted report (about 1 s; longer
after a push failed, since the router keeps counting until one is accepted). Per (namespace,
deployment, version) it carries what happened in the interval: answers sent, 5xx answers, clients
gone first (499), retries, the latency histogram's bucket counts (not cumulative) and their sum, and
the time-averaged in-flight, queued and held requests (integrated over the interval at every change,
not sampled). Per replica: the time-averaged requests in flight and the attempts it finished.

Everything is bounded at the edge, so a report (or a forged one) can never make the control plane
hold more than its store's limits: sizes per list and string, counts finite and non-negative, the
histogram exactly `len(LATENCY_BOUNDS_S) + 1` long. A report that breaks a bound is refused whole
with 400 and the field that broke it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

LATENCY_BOUNDS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the latency histogram's buckets, in seconds; one more bucket counts the rest.
The same as the router's Prometheus histogram (router/metrics.py), so its counts go on the wire as
they are."""
MAX_VERSIONS = 1_024
"""Versions in one report, as many as the store keeps (a router reports the versions
of its table, plus any that had traffic in the interval)."""
MAX_REPLICAS = 20_000
"""Replicas in one report: the scale benchmark's 10,000 replicas, twice."""
MAX_INTERVAL_S = 60.0
"""A router that could not report for longer starts over (its counts are no longer per second)."""
MAX_COUNT = 10_000_000
"""Answers per entry per interval: far above what one router sends in a minute."""

Label = Annotated[str, Field(max_length=253)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Level = Annotated[float, Field(ge=0, le=MAX_COUNT)]


class _Wire(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel, allow_inf_nan=False
    )


class VersionReport(_Wire):
    namespace: Label
    deployment: Label
    version: Annotated[str, Field(max_length=63)]
    """"" for requests refused before a version was drawn (unknown model, nothing ready)."""
    requests: Count = 0
    """Answers sent in the interval, whatever their status."""
    errors: Count = 0
    """Of those, answers with a 5xx status (the router's own 502/503/504 and the replicas')."""
    client_closed: Count = 0
    """Of those, requests whose client left first (status 499)."""
    retries: Count = 0
    latency: tuple[Count, ...] = (0,) * (len(LATENCY_BOUNDS_S) + 1)
    """Answers per latency bucket (see LATENCY_BOUNDS_S; the last one is above 10 s)."""
    latency_sum_s: Level = 0.0
    inflight: Level = 0.0
    """Requests at a replica, averaged over the interval."""
    queued: Level = 0.0
    """Requests waiting for a free slot, averaged over the interval."""
    held: Level = 0.0
    """Requests waiting for a ready replica, averaged over the interval."""

    @model_validator(mode="after")
    def _consistent(self) -> VersionReport:
        if len(self.latency) != len(LATENCY_BOUNDS_S) + 1:
            raise ValueError(
                f"latency has {len(self.latency)} bucket counts; it takes {len(LATENCY_BOUNDS_S) + 1}"
            )
        if sum(self.latency) != self.requests:
            raise ValueError(f"latency counts {sum(self.latency)} answers but requests is {self.requests}")
        if self.errors + self.client_closed > self.requests:
            raise ValueError("errors + clientClosed exceed requests")
        return self


class ReplicaReport(_Wire):
    namespace: Label
    deployment: Label
    replica: Label
    inflight: Level = 0.0
    """Requests in flight at this replica, averaged over the interval."""
    requests: Count = 0
    """Attempts this replica finished in the interval (answered or failed)."""


class RouterReport(_Wire):
    interval_s: Annotated[float, Field(gt=0, le=MAX_INTERVAL_S)]
    versions: Annotated[tuple[VersionReport, ...], Field(max_length=MAX_VERSIONS)] = ()
    replicas: Annotated[tuple[ReplicaReport, ...], Field(max_length=MAX_REPLICAS)] = ()


class ReportRefused(ValueError):
    """A report that breaks a bound or is not JSON; the message names the first field at fault."""


def parse_report(body: bytes) -> RouterReport:
    """The report in `body` (JSON), or ReportRefused saying what is wrong with it."""
    try:
        return RouterReport.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        first = problems[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ReportRefused(f"router report refused: {where}: {first['msg']}{more}.") from None
