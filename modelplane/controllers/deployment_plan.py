"""What the deployment controller decides for one ModelDeployment: a `DeploymentPlan`, from pure inputs.

`decide(deployment, revisions, replicas, now=..., log_tail=...)` reads nothing and writes nothing: the
deployment (its spec, generation, and its last status — the controller's memory: the rollback in
force, the last two fully available revisions, the conditions with their times), its Revision and
Replica objects as read from the store, and `now`. It returns every write of one pass:

1. the rollout planner's step (`rollout.plan_rollout`): create the revision of a new template, scale
   revisions, renumber a re-applied one, drop old ones past revisionHistoryLimit;
2. the ReplicaSet controller's step for each revision as it is after (1): replicas to create (from the
   revision's template) or to delete (victims in Kubernetes' order);
3. the status: counts, conditions, the current revision, `desiredReplicas`, the disruption budget,
   the last available revisions, and an automatic rollback when the current template fails (past its
   progress deadline, crash-looping, or unready after taking traffic) and a good revision exists;
   `status.autoscaling` is the autoscaler's and is carried over unchanged;
4. when to look again without a change (`requeue_after`): the planner's progress-deadline check, or
   the moment a ready replica passes minReadySeconds, whichever comes first.

How many replicas the deployment wants and its template hash are modelplane.spec's
(`desired_replicas`, `template_hash`): the one owner that the API and the CLI read too.

A replica's name is drawn, and its namespace's quota checked, when the plan is applied
(`deployments.apply`): a quota refusal is the one status fact known only after writing
(`DeploymentPlan.status_with`). `log_tail` (a replica name → the end of its log) quotes a crash-looping
replica's log in the rollback cause; it is a read, passed in so this stays testable without files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelplane.controllers import disruption
from modelplane.controllers.replicas import ReplicaFacts, available_at, choose_victims, count_replicas
from modelplane.controllers.rollout import (
    Condition,
    ConditionStatus,
    ConditionType,
    RevisionState,
    RolloutSpec,
    RolloutStatus,
    RolloutStep,
    plan_rollout,
)
from modelplane.spec import SCALE_STATUS, ModelDeploymentSpec, ScaleStatus, desired_replicas, template_hash
from modelplane.store import StoredObject

REVISION = "Revision"
DEPLOYMENT_LABEL = "modelplane.dev/deployment"
REVISION_LABEL = "modelplane.dev/revision"

LogTail = Callable[[str], str]
"""The last lines of a replica's log, by replica name ("" when there is none)."""


def facts(replica: StoredObject) -> ReplicaFacts:
    status, spec = replica.status, replica.spec
    return ReplicaFacts(
        name=replica.name,
        revision=spec.get("revision", ""),
        phase=status.get("phase", "Pending"),
        ready=bool(status.get("ready")),
        ready_since=status.get("readySince"),
        pool=spec.get("pool"),
        restarts=int(status.get("restarts", 0)),
        created=replica.created,
        deleting=replica.deletion_timestamp is not None,
    )


def disruption_status(
    deployment: StoredObject, spec: ModelDeploymentSpec, replicas: Sequence[ReplicaFacts], *, now: float
) -> disruption.BudgetStatus | None:
    """The deployment's budget status now (its PodDisruptionBudget's); None when it has no budget."""
    desired = desired_replicas(spec, ScaleStatus.read(deployment.status))
    budget = disruption.effective_budget(spec.disruption_budget, desired)
    if budget is None:
        return None
    return disruption.budget_status(
        budget, deployment=deployment.name, namespace=deployment.namespace, desired_replicas=desired,
        replicas=replicas, now=now,
    )  # fmt: skip


def budget_json(status: disruption.BudgetStatus, *, from_spec: bool) -> dict[str, Any]:
    """`status.disruptionBudget`: the effective rule, where it comes from, and the PDB status counts."""
    rule = status.budget.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        **rule,
        "source": "spec" if from_spec else "default",
        "expectedPods": status.expected,
        "desiredHealthy": status.desired_healthy,
        "currentHealthy": status.current_healthy,
        "disruptionsAllowed": status.disruptions_allowed,
    }


def revision_state(
    revision: StoredObject, replicas: Sequence[ReplicaFacts], *, min_ready: float, now: float
) -> RevisionState:
    spec = revision.spec
    counts = count_replicas(
        [r for r in replicas if r.revision == spec["templateHash"]], min_ready_seconds=min_ready, now=now
    )
    return RevisionState(
        name=revision.name,
        number=int(spec["number"]),
        template_hash=spec["templateHash"],
        spec_replicas=int(spec["replicas"]),
        ready=counts.ready,
        available=counts.available,
        created=revision.created,
        replicas=counts.replicas,
        terminating=counts.terminating,
        desired_replicas=spec.get("desiredReplicas"),
        max_replicas=spec.get("maxReplicas"),
        history=tuple(spec.get("history") or ()),
    )


def previous_status(status: Mapping[str, Any]) -> RolloutStatus:
    conditions = tuple(
        Condition(
            type=ConditionType(c["type"]),
            status=ConditionStatus(c["status"]),
            reason=c.get("reason", ""),
            message=c.get("message", ""),
            last_update_time=float(c.get("lastUpdateTime") or 0.0),
            last_transition_time=float(c.get("lastTransitionTime") or 0.0),
        )
        for c in status.get("conditions") or ()
        if c.get("type") in ConditionType._value2member_map_
    )
    return RolloutStatus(
        observed_generation=int(status.get("observedGeneration", 0)),
        replicas=int(status.get("replicas", 0)),
        updated_replicas=int(status.get("updatedReplicas", 0)),
        ready_replicas=int(status.get("readyReplicas", 0)),
        available_replicas=int(status.get("availableReplicas", 0)),
        unavailable_replicas=int(status.get("unavailableReplicas", 0)),
        conditions=conditions,
    )


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class NewRevision:
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]


@dataclass(frozen=True)
class ReplicaCreation:
    """`count` new replicas of one revision, made from its template."""

    revision: str
    template_hash: str
    template: Mapping[str, Any]
    count: int


@dataclass(frozen=True)
class DeploymentPlan:
    """Every write of one pass over one deployment, in the order `deployments.apply` makes them."""

    create_revision: NewRevision | None = None
    update_revisions: tuple[tuple[str, dict[str, Any]], ...] = ()
    """(name, whole new spec) of each revision scaled or renumbered."""
    delete_revisions: tuple[str, ...] = ()
    delete_replicas: tuple[str, ...] = ()
    create_replicas: tuple[ReplicaCreation, ...] = ()
    events: tuple[Event, ...] = ()
    """The rollout step's events, then a SuccessfulDelete per replica deleted (recorded before the
    creations, which record their own SuccessfulCreate / FailedCreate)."""
    rolled_back: Event | None = None
    """The RolledBack warning of a rollback decided in this pass (recorded last)."""
    status: dict[str, Any] | None = None
    """The status to write (None: the deployment is going, nothing to write)."""
    remove_deployment: bool = False
    """Deleted, and its replicas gone: remove it (and its revisions: `delete_revisions`)."""
    requeue_after: float | None = None
    """Seconds until the deployment must be looked at again even if nothing changes; None: no need."""

    def status_with(self, refusal: str | None) -> dict[str, Any] | None:
        """The status, with the quota refusal that stopped a replica's creation (ReplicaFailure)."""
        if self.status is None or refusal is None:
            return self.status
        failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": refusal}
        conditions = list(self.status["conditions"])
        degraded = [i for i, c in enumerate(conditions) if c.get("type") == "Degraded"]
        conditions.insert(degraded[0] if degraded else len(conditions), failure)
        return {**self.status, "conditions": conditions}


def decide(
    deployment: StoredObject,
    revisions: Sequence[StoredObject],
    replicas: Sequence[StoredObject],
    *,
    now: float,
    log_tail: LogTail = lambda _replica: "",
) -> DeploymentPlan:
    """The next pass for `deployment`, given its revisions and replicas (pure; see the module)."""
    if deployment.deletion_timestamp is not None:
        return _deleting(replicas, revisions)
    spec = ModelDeploymentSpec.model_validate(deployment.spec)
    desired_hash = template_hash(spec)
    rollback = dict(deployment.status.get("rollback") or {})
    if rollback.get("from") != desired_hash:
        rollback = {}  # the spec changed since: roll out what it asks for now
    hashes = {r.spec.get("templateHash") for r in revisions}
    current_hash = rollback["to"] if rollback.get("to") in hashes else desired_hash
    rollout = RolloutSpec.from_spec(
        deployment.name,
        spec,
        template_hash=current_hash,
        generation=deployment.generation,
        replicas=desired_replicas(spec, ScaleStatus.read(deployment.status)),
        paused=spec.paused,
    )
    replica_facts = [facts(r) for r in replicas]
    states = [revision_state(r, replica_facts, min_ready=spec.min_ready_seconds, now=now) for r in revisions]
    step = plan_rollout(rollout, states, now=now, previous=previous_status(deployment.status))
    created, updates, after = _revisions_after(deployment, revisions, step, current_hash)
    deletes, creations, events = _sync_replicas(after, replicas)
    numbers = {r["templateHash"]: int(r["number"]) for r in after.values()}
    # the last two revisions that were fully available: a revision that breaks after completing its
    # rollout goes back to the one before it
    last_available = deployment.status.get("lastAvailable")
    previous_available = deployment.status.get("previousAvailable")
    available_now = _fully_available(step.status, states, replicas=rollout.replicas, current=current_hash)
    if available_now is not None and available_now != last_available:
        last_available, previous_available = available_now, last_available
    status: dict[str, Any] = {
        **step.status.to_dict(),
        "revision": numbers.get(current_hash, 0),
        "templateHash": current_hash,
        "desiredReplicas": rollout.replicas,
        "lastAvailable": last_available,
        "previousAvailable": previous_available,
    }
    if SCALE_STATUS in deployment.status:  # the autoscaler's part: carried over, never rewritten here
        status[SCALE_STATUS] = deployment.status[SCALE_STATUS]
    budget = disruption_status(deployment, spec, replica_facts, now=now)
    if budget is not None:
        status["disruptionBudget"] = budget_json(budget, from_spec=spec.disruption_budget is not None)
    good = last_available if last_available != desired_hash else previous_available
    rolled_back = None
    if not rollback and spec.strategy.auto_rollback and good and good != desired_hash and good in numbers:
        deadline = spec.strategy.progress_deadline_seconds
        cause = _failure(step.status, replicas, desired_hash, deadline=deadline, log_tail=log_tail)
        if cause is not None:
            rollback = {"from": desired_hash, "to": good, "cause": cause, "at": now}
            bad_number = numbers.get(desired_hash, "?")
            message = f"Rolled back from revision {bad_number} to revision {numbers[good]}: {cause}"
            rolled_back = Event("Warning", "RolledBack", message)
    if rollback:
        status["rollback"] = rollback
        failed = numbers.get(rollback["from"], "?")
        status["conditions"] = [
            *status["conditions"],
            {
                "type": "Degraded",
                "status": "True",
                "reason": "RolledBack",
                "message": f"revision {failed} failed and was rolled back: {rollback['cause']}. "
                "Change the spec to try again.",
                "lastUpdateTime": rollback["at"],
                "lastTransitionTime": rollback["at"],
            },
        ]
    step_events = [
        Event("Normal", "ScalingReplicaSet" if m.startswith("Scaled") else "RevisionCreated", m)
        for m in step.events
    ]
    return DeploymentPlan(
        create_revision=created,
        update_revisions=tuple(updates),
        delete_revisions=tuple(step.delete),
        delete_replicas=tuple(deletes),
        create_replicas=tuple(creations),
        events=(*step_events, *events),
        rolled_back=rolled_back,
        status=status,
        requeue_after=_requeue_after(step, replica_facts, min_ready=spec.min_ready_seconds, now=now),
    )


def _deleting(replicas: Sequence[StoredObject], revisions: Sequence[StoredObject]) -> DeploymentPlan:
    """A deleted deployment scales everything to 0, and goes (with its revisions) once its replicas
    are gone."""
    if replicas:
        live = tuple(r.name for r in replicas if r.deletion_timestamp is None)
        return DeploymentPlan(delete_replicas=live)
    return DeploymentPlan(delete_revisions=tuple(r.name for r in revisions), remove_deployment=True)


def _revisions_after(
    deployment: StoredObject, revisions: Sequence[StoredObject], step: RolloutStep, template_hash: str
) -> tuple[NewRevision | None, list[tuple[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The revision to create, the revisions to update, and every revision's spec once the step is made."""
    after = {r.name: dict(r.spec) for r in revisions}
    created = None
    if step.create is not None:
        new = step.create
        spec = {
            "deployment": deployment.name,
            "number": new.number,
            "templateHash": template_hash,
            "template": dict(deployment.spec),
            "replicas": new.spec_replicas,
            "desiredReplicas": new.desired_replicas,
            "maxReplicas": new.max_replicas,
            "history": list(new.history),
        }
        labels = {DEPLOYMENT_LABEL: deployment.name, REVISION_LABEL: template_hash}
        created = NewRevision(new.name, labels, spec)
    changed: dict[str, dict[str, Any]] = {}
    for change in step.scale:
        if change.revision in after:
            changed[change.revision] = after[change.revision] = {
                **after[change.revision],
                "replicas": change.to_replicas,
                "desiredReplicas": change.desired_replicas,
                "maxReplicas": change.max_replicas,
            }
    renumber = step.renumber
    if renumber is not None and renumber.name in after:
        update = {"number": renumber.number, "history": list(renumber.history)}
        changed[renumber.name] = after[renumber.name] = {**after[renumber.name], **update}
    for old in step.delete:
        after.pop(old, None)
        changed.pop(old, None)
    if created is not None:
        after[created.name] = created.spec
    return created, list(changed.items()), dict(sorted(after.items()))


def _sync_replicas(
    revisions: Mapping[str, Mapping[str, Any]], replicas: Sequence[StoredObject]
) -> tuple[list[str], list[ReplicaCreation], list[Event]]:
    """The ReplicaSet controller for each revision: as many live replicas as its `spec.replicas`."""
    related = [facts(r) for r in replicas]
    deletes: list[str] = []
    creations: list[ReplicaCreation] = []
    events: list[Event] = []
    for name, spec in revisions.items():
        template_hash = spec["templateHash"]
        live = [f for f in related if f.revision == template_hash and not f.deleting]
        diff = int(spec["replicas"]) - len(live)
        if diff > 0:
            creations.append(ReplicaCreation(name, template_hash, spec["template"], diff))
        elif diff < 0:
            for victim in choose_victims(live, -diff, related=related):
                deletes.append(victim)
                events.append(Event("Normal", "SuccessfulDelete", f"Deleted replica: {victim}"))
    return deletes, creations, events


def _requeue_after(
    step: RolloutStep, replicas: Sequence[ReplicaFacts], *, min_ready: float, now: float
) -> float | None:
    """The planner's deadline check, or just after a ready replica passes minReadySeconds (Kubernetes'
    ReplicaSet controller requeues after minReadySeconds for the same reason)."""
    waits = [step.requeue_after] if step.requeue_after is not None else []
    if min_ready > 0:
        for replica in replicas:
            at = available_at(replica, min_ready_seconds=min_ready)
            if at is not None and at >= now and not replica.deleting:
                waits.append(at - now + 0.01)  # available strictly after `at`
    return min(waits) if waits else None


def _fully_available(
    status: RolloutStatus, states: Sequence[RevisionState], *, replicas: int, current: str
) -> str | None:
    """The revision that has every desired replica available now, if one has: the current template once
    its rollout is complete, or an older revision that has them all by itself (its replicas passed
    minReadySeconds only after a newer template was applied: a good rollback target all the same)."""
    if _complete(status, replicas):
        return current
    older = [s for s in states if s.template_hash != current and replicas > 0 and s.available >= replicas]
    return max(older, key=lambda s: s.number).template_hash if older else None


def _complete(status: RolloutStatus, replicas: int) -> bool:
    progressing = status.condition(ConditionType.PROGRESSING)
    return (
        progressing is not None
        and progressing.reason == "NewReplicaSetAvailable"
        and status.updated_replicas >= replicas
        and status.available_replicas >= replicas
    )


def _failure(
    status: RolloutStatus,
    replicas: Sequence[StoredObject],
    template_hash: str,
    *,
    deadline: int,
    log_tail: LogTail,
) -> str | None:
    """Why the revision `template_hash` is failing, or None: past its progress deadline, a replica
    crash-looping, or a replica that lost readiness after it had taken traffic."""
    progressing = status.condition(ConditionType.PROGRESSING)
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        why = f"{progressing.reason}, {progressing.message}"
        return f"it made no progress for progressDeadlineSeconds ({deadline} s): {why}"
    for replica in replicas:
        if replica.spec.get("revision") != template_hash or replica.deletion_timestamp is not None:
            continue
        state = replica.status
        waiting = state.get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            last = state.get("lastExit") or {}
            tail = log_tail(replica.name)
            exited = f"last exit {last.get('reason')}, code {last.get('code')}"
            return f"replica {replica.name} is crash-looping ({exited})" + (
                f"; its log ends: {tail}" if tail else ""
            )
        if state.get("everReady") and not state.get("ready") and state.get("phase") == "Running":
            return f"replica {replica.name} failed its readiness probe after taking traffic"
    return None
