"""The probe state machine of one replica process: the kubelet's probe workers (`prober/worker.go`), pure.

One `ProbeWorker` per configured probe type (startup, readiness, liveness) of one running process; a
`ProbeSet` holds them and answers the questions the supervisor asks: which probes are due `now`, when
the next one is, whether the process has started, is ready, or must be restarted. Time is passed in.

Kubernetes semantics (research/k8s-semantics.md §3), kept exactly:
- initial published results: readiness Failure, liveness Success, startup Unknown;
- no probe runs before `initialDelaySeconds` after the process started;
- while a startup probe has not succeeded, liveness and readiness do not run; once it has, it stops;
- a result is published only after `failureThreshold` failures or `successThreshold` successes in a
  row; a published liveness or startup Failure asks for a restart and holds that worker until a new
  process (a new `ProbeSet`) starts;
- readiness never restarts anything, and keeps probing while the replica terminates; liveness and
  startup stop then, with their result set to Success.

Timing: the first run of a probe is at `max(start + initialDelay, moment it became allowed)` — the
kubelet triggers readiness at once when the startup probe passes — then every `period()` after the
previous run. (The kubelet's ticker is aligned to when its worker was created; the difference is
under one period and no rule above depends on it.)

One departure from Kubernetes, after Knative's queue-proxy: until the readiness probe of a process
has first passed, it runs every `LOADING_PERIOD_SECONDS` (its own timeout kept), then every
`periodSeconds`. A replica whose model loads in 1.5 s is then ready ~1.5 s after it started, not at
the next 10 s tick. Liveness and startup keep `periodSeconds`: their failures count towards a
restart, so probing them faster would shorten the time a process is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from modelplane.spec.probes import Probe, Probes


class ProbeKind(StrEnum):
    STARTUP = "startup"
    READINESS = "readiness"
    LIVENESS = "liveness"


class ProbeResult(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


INITIAL_RESULT: Mapping[ProbeKind, ProbeResult] = {
    ProbeKind.STARTUP: ProbeResult.UNKNOWN,
    ProbeKind.READINESS: ProbeResult.FAILURE,
    ProbeKind.LIVENESS: ProbeResult.SUCCESS,
}

HEALTH_PATHS: Mapping[ProbeKind, str] = {
    ProbeKind.STARTUP: "/v2/health/ready",
    ProbeKind.READINESS: "/v2/health/ready",
    ProbeKind.LIVENESS: "/v2/health/live",
}
"""What each probe asks the model server (startup covers model loading, so it asks for readiness)."""

LOADING_PERIOD_SECONDS: Final = 0.05
"""Seconds between readiness probes until the first passes. Knative's queue-proxy polls every 50 ms
(`retryInterval`, pkg/queue/readiness/probe.go) for the same reason. 50 ms, not 25: readiness is then
seen 25 ms after the model loaded on average, while each loading replica costs 20 local HTTP
requests a second (its own server answers them too, while it loads) — at a 10x spike, 18 replicas
loading at once on 2 cores cost 360 a second, not 720."""


@dataclass(frozen=True, slots=True)
class ProbeWorker:
    """One probe type of one process: its published result and the run of identical raw results."""

    kind: ProbeKind
    probe: Probe
    result: ProbeResult
    last: ProbeResult = ProbeResult.UNKNOWN
    run: int = 0
    on_hold: bool = False
    last_run_at: float | None = None
    passed: bool = False
    """Its published result has been Success at least once (for this process)."""

    def period(self, *, terminating: bool) -> float:
        """Seconds from one run to the next: `LOADING_PERIOD_SECONDS` for a readiness probe that has
        not passed yet (unless the process is being stopped), `periodSeconds` otherwise."""
        loading = self.kind is ProbeKind.READINESS and not self.passed and not terminating
        return LOADING_PERIOD_SECONDS if loading else float(self.probe.period_seconds)

    def recorded(self, success: bool, now: float) -> ProbeWorker:
        """This worker after one probe run (`resultRun` counting, threshold, hold on failure)."""
        raw = ProbeResult.SUCCESS if success else ProbeResult.FAILURE
        run = self.run + 1 if raw is self.last else 1
        below = run < (self.probe.failure_threshold if not success else self.probe.success_threshold)
        if below:
            return replace(self, last=raw, run=run, last_run_at=now)
        if not success and self.kind is not ProbeKind.READINESS:
            return replace(self, result=raw, last=raw, run=0, on_hold=True, last_run_at=now)
        return replace(self, result=raw, last=raw, run=run, last_run_at=now, passed=self.passed or success)


@dataclass(frozen=True, slots=True)
class ProbeSet:
    """The probe workers of one process, started at `started_at`."""

    started_at: float
    workers: Mapping[ProbeKind, ProbeWorker]
    started_since: float | None
    """When the startup probe passed (`started_at` without a startup probe); None before."""
    terminating: bool = False

    @classmethod
    def initial(cls, probes: Probes, *, started_at: float) -> ProbeSet:
        """The workers of a process that has just started, with Kubernetes' initial results."""
        configured = {
            ProbeKind.STARTUP: probes.startup,
            ProbeKind.READINESS: probes.readiness,
            ProbeKind.LIVENESS: probes.liveness,
        }
        workers = {
            kind: ProbeWorker(kind=kind, probe=probe, result=INITIAL_RESULT[kind])
            for kind, probe in configured.items()
            if probe is not None
        }
        started_since = None if ProbeKind.STARTUP in workers else started_at
        return cls(started_at=started_at, workers=workers, started_since=started_since)

    # what the supervisor reads
    @property
    def started(self) -> bool:
        """The startup probe has passed, or there is none."""
        return self.started_since is not None

    @property
    def ready(self) -> bool:
        """Started, and the readiness probe's published result is Success (or there is none)."""
        readiness = self.workers.get(ProbeKind.READINESS)
        return self.started and (readiness is None or readiness.result is ProbeResult.SUCCESS)

    @property
    def loading(self) -> bool:
        """Readiness runs at `LOADING_PERIOD_SECONDS` now: it is active and has not passed yet."""
        readiness = self.workers.get(ProbeKind.READINESS)
        return (
            readiness is not None
            and self._active(readiness)
            and not readiness.passed
            and not self.terminating
        )

    def result(self, kind: ProbeKind) -> ProbeResult | None:
        """The published result of `kind`; None when that probe is not configured."""
        worker = self.workers.get(kind)
        return worker.result if worker is not None else None

    def restart_reason(self) -> ProbeKind | None:
        """The probe whose published Failure means the process must be killed and restarted."""
        for kind in (ProbeKind.STARTUP, ProbeKind.LIVENESS):
            if self.result(kind) is ProbeResult.FAILURE:
                return kind
        return None

    # scheduling
    def next_run(self, kind: ProbeKind) -> float | None:
        """When probe `kind` must run next; None when it is not configured or not running now."""
        worker = self.workers.get(kind)
        if worker is None or not self._active(worker):
            return None
        if worker.last_run_at is not None:
            return worker.last_run_at + worker.period(terminating=self.terminating)
        first = self.started_at + worker.probe.initial_delay_seconds
        if kind is not ProbeKind.STARTUP and self.started_since is not None:
            first = max(first, self.started_since)
        return first

    def due(self, now: float) -> tuple[ProbeKind, ...]:
        """The probes that must run at `now` (startup first)."""
        return tuple(
            kind
            for kind in (ProbeKind.STARTUP, ProbeKind.LIVENESS, ProbeKind.READINESS)
            if (at := self.next_run(kind)) is not None and now >= at
        )

    def next_due(self) -> float | None:
        """The earliest time any probe must run; None when no probe will run."""
        times = [t for kind in self.workers if (t := self.next_run(kind)) is not None]
        return min(times) if times else None

    # transitions
    def record(self, kind: ProbeKind, *, success: bool, now: float) -> ProbeSet:
        """The set after probe `kind` ran at `now` and succeeded or failed."""
        worker = self.workers[kind].recorded(success, now)
        workers = {**self.workers, kind: worker}
        started_since = self.started_since
        if kind is ProbeKind.STARTUP and worker.result is ProbeResult.SUCCESS and started_since is None:
            started_since = now
        return replace(self, workers=workers, started_since=started_since)

    def terminate(self) -> ProbeSet:
        """Deletion has begun: liveness and startup stop with result Success; readiness goes on."""
        workers = {
            kind: worker if kind is ProbeKind.READINESS else replace(worker, result=ProbeResult.SUCCESS)
            for kind, worker in self.workers.items()
        }
        return replace(self, workers=workers, terminating=True)

    def _active(self, worker: ProbeWorker) -> bool:
        if worker.on_hold:
            return False
        if self.terminating and worker.kind is not ProbeKind.READINESS:
            return False
        if worker.kind is ProbeKind.STARTUP:
            return not self.started
        return self.started
