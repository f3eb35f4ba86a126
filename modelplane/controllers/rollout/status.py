"""A deployment's rollout status: counts, and the Available / Progressing conditions with their times.

Copies of Kubernetes' deployment controller, as pure functions of (previous status, revisions, now):

- `calculate_status` — sync.go `calculateStatus`: counts summed over revisions; `unavailable` is
  Σ spec replicas − Σ available, floored at 0 (so surge replicas not yet available count too);
  Available=True (MinimumReplicasAvailable) iff available ≥ replicas − maxUnavailable.
- `set_condition` — `deploymentutil.SetDeploymentCondition`: same status and reason → unchanged (times
  kept); same status, new reason → lastTransitionTime kept, lastUpdateTime = now.
- `sync_progress` — progress.go `syncRolloutStatus`: Complete → NewReplicaSetAvailable; progress
  (`DeploymentProgressing`: more updated, fewer old, more ready or more available) → ReplicaSetUpdated
  with lastUpdateTime = now; else past the deadline (`DeploymentTimedOut`: lastUpdateTime + deadline
  strictly before now) → Progressing=False ProgressDeadlineExceeded. Replicas are never changed for it.
  The ReplicaFailure condition mirrors the new revision's (else any revision's) failure.
- `requeue_after` — `requeueStuckDeployment`: look again at lastUpdateTime + deadline + 1 s.
  Deviation: when less than 1 s is left, Kubernetes requeues at once (rate-limited) and may spin until
  the deadline passes; we return the same deadline + 1 s instead, which gives the same verdict. Nor do
  we wake a deployment whose Progressing reason is NewReplicaSetAvailable (it can never time out).
- `check_paused_conditions` — sync.go `checkPausedConditions` (DeploymentPaused / DeploymentResumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from modelplane.controllers.rollout.revisions import RevisionState


class ConditionType(StrEnum):
    AVAILABLE = "Available"
    PROGRESSING = "Progressing"
    REPLICA_FAILURE = "ReplicaFailure"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason(StrEnum):
    """Kubernetes' condition reasons (deploymentutil), spelled as Kubernetes spells them."""

    NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
    FOUND_NEW_REPLICA_SET = "FoundNewReplicaSet"
    REPLICA_SET_UPDATED = "ReplicaSetUpdated"
    NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    DEPLOYMENT_PAUSED = "DeploymentPaused"
    DEPLOYMENT_RESUMED = "DeploymentResumed"
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
    MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str
    last_update_time: float
    last_transition_time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "status": str(self.status),
            "reason": self.reason,
            "message": self.message,
            "lastUpdateTime": self.last_update_time,
            "lastTransitionTime": self.last_transition_time,
        }


def new_condition(
    type: ConditionType, status: ConditionStatus, reason: str, message: str, *, now: float
) -> Condition:
    """`NewDeploymentCondition`: both times are now."""
    return Condition(type, status, reason, message, last_update_time=now, last_transition_time=now)


def get_condition(conditions: Sequence[Condition], type: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type), None)


def remove_condition(conditions: Sequence[Condition], type: ConditionType) -> tuple[Condition, ...]:
    return tuple(c for c in conditions if c.type != type)


def set_condition(conditions: Sequence[Condition], condition: Condition) -> tuple[Condition, ...]:
    """`SetDeploymentCondition`: no-op when status and reason match; keep transition time on same status."""
    current = get_condition(conditions, condition.type)
    if current is not None and current.status == condition.status and current.reason == condition.reason:
        return tuple(conditions)
    if current is not None and current.status == condition.status:
        condition = replace(condition, last_transition_time=current.last_transition_time)
    return (*remove_condition(conditions, condition.type), condition)


@dataclass(frozen=True)
class RolloutStatus:
    """A deployment's status as the rollout planner computes it (DeploymentStatus)."""

    observed_generation: int = 0
    replicas: int = 0
    """Live replicas of all revisions (Σ status.replicas)."""
    updated_replicas: int = 0
    """Live replicas of the current revision."""
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    conditions: tuple[Condition, ...] = ()

    def condition(self, type: ConditionType) -> Condition | None:
        return get_condition(self.conditions, type)

    def to_dict(self) -> dict[str, Any]:
        return {
            "observedGeneration": self.observed_generation,
            "replicas": self.replicas,
            "updatedReplicas": self.updated_replicas,
            "readyReplicas": self.ready_replicas,
            "availableReplicas": self.available_replicas,
            "unavailableReplicas": self.unavailable_replicas,
            "conditions": [c.to_dict() for c in self.conditions],
        }


def calculate_status(
    revisions: Sequence[RevisionState],
    new: RevisionState | None,
    *,
    replicas: int,
    max_unavailable: int,
    generation: int,
    previous: RolloutStatus,
    now: float,
) -> RolloutStatus:
    """Counts over all revisions plus the Available condition; other conditions carried over."""
    available = sum(r.available for r in revisions)
    total = sum(r.spec_replicas for r in revisions)
    if available >= replicas - max_unavailable:
        condition = new_condition(
            ConditionType.AVAILABLE,
            ConditionStatus.TRUE,
            Reason.MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now=now,
        )
    else:
        condition = new_condition(
            ConditionType.AVAILABLE,
            ConditionStatus.FALSE,
            Reason.MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now=now,
        )
    return RolloutStatus(
        observed_generation=generation,
        replicas=sum(r.status_replicas for r in revisions),
        updated_replicas=new.status_replicas if new is not None else 0,
        ready_replicas=sum(r.ready for r in revisions),
        available_replicas=available,
        unavailable_replicas=max(total - available, 0),
        conditions=set_condition(previous.conditions, condition),
    )


def is_complete(status: RolloutStatus, *, replicas: int, generation: int) -> bool:
    """`DeploymentComplete`: all replicas updated and available, no old ones, generation observed."""
    return (
        status.updated_replicas == replicas
        and status.replicas == replicas
        and status.available_replicas == replicas
        and status.observed_generation >= generation
    )


def is_progressing(previous: RolloutStatus, status: RolloutStatus) -> bool:
    """`DeploymentProgressing`: more updated, fewer old, more ready or more available replicas."""
    old_before = previous.replicas - previous.updated_replicas
    old_now = status.replicas - status.updated_replicas
    return (
        status.updated_replicas > previous.updated_replicas
        or old_now < old_before
        or status.ready_replicas > previous.ready_replicas
        or status.available_replicas > previous.available_replicas
    )


def timed_out(status: RolloutStatus, *, deadline: int | None, now: float) -> bool:
    """`DeploymentTimedOut`: the last progress is more than `deadline` seconds old."""
    if deadline is None:
        return False
    condition = status.condition(ConditionType.PROGRESSING)
    if condition is None or condition.reason == Reason.NEW_REPLICA_SET_AVAILABLE:
        return False
    if condition.reason == Reason.PROGRESS_DEADLINE_EXCEEDED:
        return True
    return condition.last_update_time + deadline < now


def sync_progress(
    status: RolloutStatus,
    *,
    previous: RolloutStatus,
    revisions: Sequence[RevisionState],
    new: RevisionState | None,
    deployment: str,
    replicas: int,
    generation: int,
    deadline: int | None,
    now: float,
) -> RolloutStatus:
    """The Progressing and ReplicaFailure conditions of `status` (computed by calculate_status)."""
    conditions = status.conditions
    if deadline is None:
        conditions = remove_condition(conditions, ConditionType.PROGRESSING)
    current = previous.condition(ConditionType.PROGRESSING)
    done = (
        status.replicas == status.updated_replicas
        and current is not None
        and current.reason == Reason.NEW_REPLICA_SET_AVAILABLE
    )
    subject = f'Revision "{new.name}"' if new is not None else f'Deployment "{deployment}"'
    if deadline is not None and not done:
        if is_complete(status, replicas=replicas, generation=generation):
            conditions = set_condition(
                conditions,
                new_condition(
                    ConditionType.PROGRESSING,
                    ConditionStatus.TRUE,
                    Reason.NEW_REPLICA_SET_AVAILABLE,
                    f"{subject} has successfully progressed.",
                    now=now,
                ),
            )
        elif is_progressing(previous, status):
            condition = new_condition(
                ConditionType.PROGRESSING,
                ConditionStatus.TRUE,
                Reason.REPLICA_SET_UPDATED,
                f"{subject} is progressing.",
                now=now,
            )
            if current is not None:
                if current.status == ConditionStatus.TRUE:
                    condition = replace(condition, last_transition_time=current.last_transition_time)
                conditions = remove_condition(conditions, ConditionType.PROGRESSING)
            conditions = set_condition(conditions, condition)
        elif timed_out(replace(status, conditions=conditions), deadline=deadline, now=now):
            conditions = set_condition(
                conditions,
                new_condition(
                    ConditionType.PROGRESSING,
                    ConditionStatus.FALSE,
                    Reason.PROGRESS_DEADLINE_EXCEEDED,
                    f"{subject} has timed out progressing.",
                    now=now,
                ),
            )
    failure = _replica_failure(revisions, new)
    if failure is not None:
        conditions = set_condition(conditions, failure)
    else:
        conditions = remove_condition(conditions, ConditionType.REPLICA_FAILURE)
    return replace(status, conditions=conditions)


def _replica_failure(revisions: Sequence[RevisionState], new: RevisionState | None) -> Condition | None:
    """`getReplicaFailures`: the new revision's failure first, else the first one among all revisions."""
    for revision in ([new] if new is not None else []) + list(revisions):
        if revision.failure is not None:
            since = revision.failure.since
            return Condition(
                ConditionType.REPLICA_FAILURE,
                ConditionStatus.TRUE,
                revision.failure.reason,
                revision.failure.message,
                last_update_time=since,
                last_transition_time=since,
            )
    return None


def requeue_after(
    status: RolloutStatus, *, replicas: int, generation: int, deadline: int | None, now: float
) -> float | None:
    """Seconds until the progress deadline should be checked again; None when there is nothing to wait for."""
    condition = status.condition(ConditionType.PROGRESSING)
    if deadline is None or condition is None:
        return None
    if is_complete(status, replicas=replicas, generation=generation) or condition.reason in (
        Reason.PROGRESS_DEADLINE_EXCEEDED,
        Reason.NEW_REPLICA_SET_AVAILABLE,
    ):
        return None
    return max(condition.last_update_time + deadline - now, 0.0) + 1.0


def check_paused_conditions(
    previous: RolloutStatus, *, paused: bool, deadline: int | None, now: float
) -> RolloutStatus:
    """Progressing=Unknown DeploymentPaused on pause, DeploymentResumed on resume (restarts the deadline)."""
    if deadline is None:
        return previous
    current = previous.condition(ConditionType.PROGRESSING)
    if current is not None and current.reason == Reason.PROGRESS_DEADLINE_EXCEEDED:
        return previous
    paused_before = current is not None and current.reason == Reason.DEPLOYMENT_PAUSED
    if paused and not paused_before:
        reason, message = Reason.DEPLOYMENT_PAUSED, "Deployment is paused"
    elif not paused and paused_before:
        reason, message = Reason.DEPLOYMENT_RESUMED, "Deployment is resumed"
    else:
        return previous
    condition = new_condition(ConditionType.PROGRESSING, ConditionStatus.UNKNOWN, reason, message, now=now)
    return replace(previous, conditions=set_condition(previous.conditions, condition))
