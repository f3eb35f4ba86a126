"""Replica: the pod of modelplane. One model-server process serving one revision of a deployment.

Replicas are not written by users: the deployment controller creates them, the scheduler fills in
`spec.pool` and `spec.gpus`, the runtime (the kubelet) owns `status`. They live in the store like
every other object, so `get replicas`, `watch` and re-adoption after a control-plane restart read the
same record. Phases, like a pod's, only move forward (see `PHASE_TRANSITIONS`); a restart in place
keeps the phase Running/Starting and counts `status.restarts`, as the kubelet does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from modelplane.spec.meta import SpecModel
from modelplane.spec.probes import Probes
from modelplane.spec.resources import ResourceRequirements


class ReplicaPhase(StrEnum):
    PENDING = "Pending"  # not placed yet (or unschedulable: see status.message)
    SCHEDULED = "Scheduled"  # placed on a pool, process not started
    STARTING = "Starting"  # process running, startup probe not yet passed
    RUNNING = "Running"  # started; `ready` says whether it takes traffic
    SUCCEEDED = "Succeeded"  # a Job's replica whose process exited 0 (never restarted)
    FAILED = "Failed"  # a Job's replica whose process failed and is not restarted in place
    TERMINATING = "Terminating"  # removed from the router, draining (SIGTERM, grace, SIGKILL)
    TERMINATED = "Terminated"  # gone; the record is deleted soon after


FINISHED_PHASES = frozenset({ReplicaPhase.SUCCEEDED, ReplicaPhase.FAILED})
"""A Job replica in one of these holds no process and no resources; its record stays for `logs`."""
HOLDS_NOTHING = frozenset({ReplicaPhase.TERMINATED, *FINISHED_PHASES})
"""Phases of replicas that count against no pool, GPU or quota (as terminal pods)."""


PHASE_TRANSITIONS: dict[ReplicaPhase, frozenset[ReplicaPhase]] = {
    ReplicaPhase.PENDING: frozenset({ReplicaPhase.SCHEDULED, ReplicaPhase.TERMINATING}),
    ReplicaPhase.SCHEDULED: frozenset({ReplicaPhase.STARTING, ReplicaPhase.TERMINATING}),
    ReplicaPhase.STARTING: frozenset(
        {ReplicaPhase.RUNNING, ReplicaPhase.STARTING, ReplicaPhase.TERMINATING, *FINISHED_PHASES}
    ),
    ReplicaPhase.RUNNING: frozenset({ReplicaPhase.STARTING, ReplicaPhase.TERMINATING, *FINISHED_PHASES}),
    ReplicaPhase.SUCCEEDED: frozenset({ReplicaPhase.TERMINATING}),
    ReplicaPhase.FAILED: frozenset({ReplicaPhase.TERMINATING}),
    ReplicaPhase.TERMINATING: frozenset({ReplicaPhase.TERMINATED}),
    ReplicaPhase.TERMINATED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def transition(current: ReplicaPhase, target: ReplicaPhase, *, replica: str) -> ReplicaPhase:
    """`target` if the move is legal; otherwise an error naming the replica and both phases."""
    if target is current and current is not ReplicaPhase.STARTING:
        return current
    if target not in PHASE_TRANSITIONS[current]:
        raise IllegalTransition(f"replica {replica}: cannot go from {current} to {target}")
    return target


class ExitReason(StrEnum):
    COMPLETED = "Completed"  # exit code 0
    ERROR = "Error"  # any other exit code
    OOM_KILLED = "OOMKilled"  # the memory cgroup killed it (exit 137)
    KILLED = "Killed"  # SIGKILL after the grace period, or by hand (137 without an OOM kill)
    UNKNOWN = "Unknown"  # it died while the control plane was down: no exit code to read


class ReplicaRestartPolicy(StrEnum):
    """The pod's restartPolicy: deployments' replicas always restart; a Job's follow its spec."""

    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class ReplicaSpec(SpecModel):
    deployment: str = ""
    """The owning ModelDeployment; empty for a Job's replica."""
    job: str = ""
    """The owning Job; empty for a deployment's replica."""
    revision: str = ""
    version: str = ""
    port: int = Field(ge=0, le=65535)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    probes: Probes = Field(default_factory=Probes)
    grace_seconds: int = Field(default=30, ge=0)
    pool: str | None = None
    gpus: list[int] = Field(default_factory=list)
    template: dict[str, Any] = Field(default_factory=dict)
    """The ModelDeployment spec of this revision, or the Job's spec (camelCase JSON), as a pod carries
    its template."""
    restart_policy: ReplicaRestartPolicy = ReplicaRestartPolicy.ALWAYS
    working_dir: str | None = None
    """A Job replica's directory to run in (absolute; resolved at apply)."""


class LastExit(SpecModel):
    code: int | None
    reason: ExitReason
    at: float


class Waiting(SpecModel):
    reason: Literal["CrashLoopBackOff", "ContainerCreating", "Unschedulable"]
    until: float | None = None
    message: str = ""


class ReplicaUsage(SpecModel):
    """What the replica used, measured by the runtime from its cgroup (for `modelplane top`): kept in
    the node agent's memory and served by `GET /api/v1/usage`, not stored."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    measured_at: float | None = None


class ReplicaStatus(SpecModel):
    phase: ReplicaPhase = ReplicaPhase.PENDING
    ready: bool = False
    started: bool = False
    restarts: int = 0
    pid: int | None = None
    pid_start_time: int | None = None
    started_at: float | None = None
    ready_since: float | None = None
    last_exit: LastExit | None = None
    waiting: Waiting | None = None
    message: str = ""
    limits_enforced: bool | None = None
    usage: ReplicaUsage | None = Field(default=None, exclude=True)
    """Read from stores written before usage left the status (`runtime/readings.py`), never written:
    a status carrying it is rewritten without it."""
    ever_ready: bool = False
    """Sticky: the replica was ready (took traffic) at some point of its current process."""
    ready_after_seconds: float | None = None
    """Seconds from its current process's start to its first Ready (model loading plus probing);
    None before that, and for a process adopted before it was first ready."""


class Replica(SpecModel):
    kind: Literal["Replica"] = "Replica"
    name: str
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    spec: ReplicaSpec
    status: ReplicaStatus = Field(default_factory=ReplicaStatus)
    deletion_timestamp: float | None = None
