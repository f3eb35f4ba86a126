"""The Job controller (batch/v1's job controller): replicas that run a command to completion.

Level-triggered, every 0.5 s. For each Job, `reconcile` reads its replicas, asks
the pure `plan_job` what to do, and does it: create replicas (through the namespace's defaults and
quota, then the same scheduler as every replica, so a Job asking for a GPU waits for one), delete the
ones no longer wanted, write the status, record the events. Kubernetes' semantics (NonIndexed
completion mode):

- up to `parallelism` replicas run at once, never more than the completions still missing;
- a replica that exits 0 is Succeeded; the Job is Complete when `completions` have succeeded;
- `restartPolicy: Never`: a failed replica is Failed and a new one is created, after a back-off of
  10 s, 20 s, 40 s … capped at 10 min, counted from the last failure and reset by a success; the Job
  fails (BackoffLimitExceeded) when more than `backoffLimit` replicas failed.
  `OnFailure`: the replica restarts in place (the kubelet's back-off) and the Job fails once the
  restarts reach `backoffLimit` (Kubernetes' pastBackoffLimitOnFailure);
- `activeDeadlineSeconds` after the Job started, it fails (DeadlineExceeded) and its running replicas
  are stopped; when a Job fails (deadline or backoff limit), the replicas it stops count as failed,
  as in Kubernetes (TestSyncJobPastDeadline);
- finished replicas are kept (for `logs job/NAME`) until the Job is deleted; `ttlSecondsAfterFinished`
  deletes the Job (and so its replicas) that long after it finished.

Each finished replica is counted once, by name (`status.countedReplicas`), so counts never drop or
double when records go (by hand, `modelplane down`), as Kubernetes' finalizer-based tracking does. A
replica stopped before it ended for any other reason (parallelism lowered, a drain, `down`) is not a
failure: it is replaced. This differs from Kubernetes, whose default podReplacementPolicy
(TerminatingOrFailed) counts a deleted pod as failed; here a drain or a restart of the control plane
must not use up a Job's backoffLimit.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelplane.controllers import owners
from modelplane.spec import JobSpec, Probes, ResourceRequirements, RestartPolicy
from modelplane.spec.replica import FINISHED_PHASES, Replica, ReplicaPhase, ReplicaRestartPolicy, ReplicaSpec
from modelplane.store import EventType, Store, StoredObject

log = logging.getLogger("modelplane.jobs")

JOB_LABEL: Final = "modelplane.dev/job"
POD_FAILURE_BACKOFF_S: Final = 10.0
"""Kubernetes' DefaultJobPodFailureBackOff: the delay before re-creating after the first failure."""
MAX_POD_FAILURE_BACKOFF_S: Final = 600.0
"""The cap of that back-off: Kubernetes' MaxJobPodFailureBackOff (10 min in job_controller.go; the Job
documentation's "capped at six minutes" is out of date)."""
MUTABLE_FIELDS: Final = frozenset(
    {"parallelism", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "backoffLimit"}
)
"""What a re-applied Job may change; the rest is immutable, as in batch/v1."""

COMPLETE: Final = "Complete"
FAILED: Final = "Failed"


class JobRefused(ValueError):
    """An apply of a Job that cannot be taken; the message says what to do."""


# what the planner reads and returns
@dataclass(frozen=True, slots=True)
class JobReplica:
    """What the planner needs of one replica of a Job."""

    name: str
    phase: str
    created: float
    deleting: bool = False
    ready: bool = False
    restarts: int = 0
    finished_at: float | None = None
    """When its process last exited (lastExit.at)."""

    @property
    def active(self) -> bool:
        return not self.deleting and self.phase not in FINISHED_PHASES

    @property
    def succeeded(self) -> bool:
        return self.phase == ReplicaPhase.SUCCEEDED

    @property
    def failed(self) -> bool:
        """Ended Failed. A replica stopped before it ended (a lower parallelism, a drain, `down`) is not
        a failure: it is replaced (Kubernetes' podReplacementPolicy TerminatingOrFailed)."""
        return self.phase == ReplicaPhase.FAILED


@dataclass(frozen=True, slots=True)
class JobEvent:
    type: EventType
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class JobPlan:
    """One step of a Job: what to create and delete, the status to write, and why."""

    status: dict[str, Any]
    create: int = 0
    delete: tuple[str, ...] = ()
    events: tuple[JobEvent, ...] = ()
    delete_job: bool = False
    """`ttlSecondsAfterFinished` has passed: the Job (and its replicas) go."""
    failed_replica: str | None = None
    """The latest failed replica, named by the planner when the Job fails (for its log tail)."""


def failure_backoff(failures: int) -> float:
    """The delay before the next replica after `failures` failures in a row (0 when none)."""
    if failures <= 0:
        return 0.0
    # the exponent is bounded so that thousands of failures do not overflow a float (2**6 × 10 s > cap)
    return min(POD_FAILURE_BACKOFF_S * 2.0 ** min(failures - 1, 16), MAX_POD_FAILURE_BACKOFF_S)


def finished_condition(status: Mapping[str, Any]) -> dict[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") in (COMPLETE, FAILED) and condition.get("status") == "True":
            return dict(condition)
    return None


def _condition(kind: str, reason: str, message: str, now: float) -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now}


def _past_backoff_limit(spec: JobSpec, replicas: Sequence[JobReplica], failed: int) -> bool:
    if failed > spec.backoff_limit:
        return True
    if spec.restart_policy is not RestartPolicy.ON_FAILURE:
        return False
    # Kubernetes' pastBackoffLimitOnFailure: restarts of the running replicas count as retries
    restarts = sum(r.restarts for r in replicas if r.active)
    return restarts > 0 if spec.backoff_limit == 0 else restarts >= spec.backoff_limit


def _victims(active: Sequence[JobReplica], count: int) -> tuple[str, ...]:
    """Replicas to stop when fewer should run: not-yet-running ones first, then the newest."""
    order = sorted(
        active, key=lambda r: (r.phase in (ReplicaPhase.RUNNING, ReplicaPhase.STARTING), -r.created)
    )
    return tuple(r.name for r in order[:count])


def plan_job(
    spec: JobSpec, status: Mapping[str, Any], replicas: Sequence[JobReplica], *, now: float
) -> JobPlan:
    """The next step of one Job from its spec, its last status and its replicas (pure)."""
    active = [r for r in replicas if r.active]
    done = finished_condition(status)
    counted = dict(status.get("countedReplicas") or {})
    if done is None:  # each finished replica counts once, even after its record is gone
        counted |= {r.name: r.phase for r in replicas if r.name not in counted and (r.succeeded or r.failed)}
    succeeded = sum(phase == ReplicaPhase.SUCCEEDED for phase in counted.values())
    failed = sum(phase == ReplicaPhase.FAILED for phase in counted.values())
    start = float(status.get("startTime") or now)
    new_status: dict[str, Any] = {
        **status,
        "startTime": start,
        "active": len(active),
        "ready": sum(r.ready for r in active),
        "succeeded": succeeded,
        "failed": failed,
        "countedReplicas": counted,
        "conditions": list(status.get("conditions") or []),
    }
    new_status.pop("retryAt", None)
    if done is not None:  # finished: counts frozen, leftovers stopped, the TTL runs
        stop = tuple(r.name for r in active)
        if spec.ttl_seconds_after_finished is None:
            return JobPlan(new_status, delete=stop)
        expires = float(done["lastTransitionTime"]) + spec.ttl_seconds_after_finished
        return JobPlan(new_status, delete=stop, delete_job=now >= expires)

    failure: tuple[str, str] | None = None
    if _past_backoff_limit(spec, replicas, failed):
        failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    elif spec.active_deadline_seconds is not None and now - start >= spec.active_deadline_seconds:
        failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
    if failure is not None:
        reason, message = failure
        # every replica the failure stops counts as failed, as in Kubernetes ("When the job is
        # considered finished, every non-terminated pod is considered failed"; TestSyncJobPastDeadline)
        counted |= {r.name: ReplicaPhase.FAILED for r in active}
        new_status |= {"active": 0, "ready": 0, "failed": failed + len(active), "countedReplicas": counted}
        new_status["conditions"].append(_condition(FAILED, reason, message, now))
        new_status["completionTime"] = None
        latest = max((r for r in replicas if r.failed), key=lambda r: r.finished_at or 0.0, default=None)
        return JobPlan(
            new_status,
            delete=tuple(r.name for r in active),
            events=(JobEvent("Warning", reason, message),),
            failed_replica=latest.name if latest is not None else None,
        )
    if succeeded >= spec.completions:
        message = "Reached expected number of succeeded replicas"
        new_status["conditions"].append(_condition(COMPLETE, "CompletionsReached", message, now))
        new_status["completionTime"] = now
        return JobPlan(
            new_status,
            delete=tuple(r.name for r in active),
            events=(JobEvent("Normal", "Completed", "Job completed"),),
        )

    want = min(spec.parallelism, spec.completions - succeeded)
    if len(active) > want:
        return JobPlan(new_status, delete=_victims(active, len(active) - want))
    if len(active) == want:
        return JobPlan(new_status)
    last_success = max((r.finished_at or 0.0 for r in replicas if r.succeeded), default=0.0)
    failures = [r.finished_at or 0.0 for r in replicas if r.failed and (r.finished_at or 0.0) >= last_success]
    if failures:
        retry_at = max(failures) + failure_backoff(len(failures))
        if now < retry_at:
            new_status["retryAt"] = retry_at
            return JobPlan(new_status)
    return JobPlan(new_status, create=want - len(active))


# applying a Job
def admit(existing: StoredObject | None, spec: dict[str, Any], *, base_dir: Path | None) -> dict[str, Any]:
    """The spec to store for an applied Job: `workingDir` made absolute (relative to the applied file,
    the file's folder when unset), and refused when it would change an immutable field of a Job that
    exists, or re-create one that is being deleted."""
    spec = dict(spec)
    working_dir = spec.get("workingDir")
    if base_dir is not None:
        spec["workingDir"] = str((base_dir / (working_dir or ".")).resolve())
    if existing is None:
        return spec
    if existing.deletion_timestamp is not None:
        raise JobRefused(
            "is being deleted (its replicas are stopping); apply it again once `modelplane get jobs` "
            "no longer lists it."
        )
    changed = sorted(
        k for k in {*spec, *existing.spec} - MUTABLE_FIELDS if spec.get(k) != existing.spec.get(k)
    )
    if changed:
        fields = ", ".join(f"spec.{k}" for k in changed)
        raise JobRefused(
            f"{fields}: field is immutable once the Job exists (only {', '.join(sorted(MUTABLE_FIELDS))} "
            f"may change). Delete it first (modelplane delete job {existing.name}) or apply it under a "
            "new name."
        )
    return spec


# the loop
def replica_facts(stored: StoredObject) -> JobReplica:
    status = stored.status
    last = status.get("lastExit") or {}
    return JobReplica(
        name=stored.name,
        phase=str(status.get("phase") or ReplicaPhase.PENDING),
        created=stored.created,
        deleting=stored.deletion_timestamp is not None,
        ready=bool(status.get("ready")),
        restarts=int(status.get("restarts") or 0),
        finished_at=last.get("at"),
    )


def reconcile(
    store: Store, job: StoredObject, *, now: float, rng: random.Random, logs_dir: Path | None = None
) -> None:
    """Bring one Job's replicas and status in line with its spec (idempotent)."""
    namespace, name = job.namespace, job.name
    owned = [r for r in store.list("Replica", namespace=namespace) if r.spec.get("job") == name]
    ref = {"kind": "Job", "namespace": namespace, "name": name}
    if job.deletion_timestamp is not None:
        for replica in owned:
            if replica.deletion_timestamp is None:
                store.mark_deleted("Replica", namespace, replica.name, now=now)
        if not owned:
            store.remove("Job", namespace, name)
        return
    spec = JobSpec.model_validate(job.spec)
    plan = plan_job(spec, job.status, [replica_facts(r) for r in owned], now=now)
    for victim in plan.delete:
        store.mark_deleted("Replica", namespace, victim, now=now)
        store.record_event(
            **ref, type="Normal", reason="SuccessfulDelete", message=f"Deleted replica: {victim}", now=now
        )
    status = dict(plan.status)
    refusal = None
    if plan.create:
        refusal = owners.create_replicas(
            store,
            ref,
            job.spec.get("resources") or {},
            plan.create,
            lambda resources: new_job_replica(job, spec, resources, rng),
            now=now,
        )
    # shown while a creation is refused; gone once one is not, or none is needed
    failure = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": refusal}]
    others = [c for c in status["conditions"] if c.get("type") != "ReplicaFailure"]
    status["conditions"] = others + (failure if refusal else [])
    for event in plan.events:
        message = event.message
        if event.reason != "Completed" and plan.failed_replica is not None:
            message += "; " + _failure_cause(store, namespace, plan.failed_replica, logs_dir)
        store.record_event(**ref, type=event.type, reason=event.reason, message=message, now=now)
        log.info("job %s/%s: %s", namespace, name, message)
    if status != job.status:
        store.update_status("Job", namespace, name, status, now=now)
    if plan.delete_job:
        log.info("job %s/%s: ttlSecondsAfterFinished passed; deleting it", namespace, name)
        store.mark_deleted("Job", namespace, name, now=now)


def _failure_cause(store: Store, namespace: str, replica: str, logs_dir: Path | None) -> str:
    stored = store.find("Replica", namespace, replica)
    last = (stored.status.get("lastExit") or {}) if stored is not None else {}
    cause = f"last failed replica {replica}: {last.get('reason', 'deleted')}"
    if last.get("code") is not None:
        cause += f" (exit code {last['code']})"
    tail = owners.log_tail(logs_dir, namespace, replica)
    return cause + (f"; its log ends: {tail}" if tail else "")


def new_job_replica(
    job: StoredObject, spec: JobSpec, resources: Mapping[str, Any], rng: random.Random
) -> Replica:
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    return Replica(
        name=job.name[:57].rstrip("-") + f"-{suffix}",
        namespace=job.namespace,
        labels={**job.labels, JOB_LABEL: job.name},
        spec=ReplicaSpec(
            job=job.name,
            port=0,
            resources=ResourceRequirements.model_validate(resources),
            probes=Probes(startup=None, readiness=None, liveness=None),
            grace_seconds=spec.termination_grace_period_seconds,
            template=dict(job.spec),
            restart_policy=ReplicaRestartPolicy(spec.restart_policy),
            working_dir=job.spec.get("workingDir"),
        ),
    )
