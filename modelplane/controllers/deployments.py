"""The deployment controller: revisions (ReplicaSets) of each ModelDeployment, and their replicas.

Level-triggered, every 0.5 s and on every change. For each deployment, `reconcile`:
1. reads its Revision objects and Replica objects fresh from the store;
2. asks the pure rollout planner (`rollout.plan_rollout`: Kubernetes' syncDeployment, rolling.go,
   recreate.go) for the next step — create the revision of a new template, scale revisions, renumber a
   re-applied one, drop old ones past revisionHistoryLimit — and applies it;
3. keeps each revision's replica count at its `spec.replicas` (the ReplicaSet controller): creates
   Replica objects from the revision's template, or deletes victims in Kubernetes' order;
4. writes the deployment's status (counts, conditions, current revision).

A revision is keyed by a hash of the replica template (`template_revision`); replicas carry it in
`spec.revision`. A deleted deployment scales everything to 0 and goes once its replicas are gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelplane.controllers import disruption, owners
from modelplane.controllers.replicas import ReplicaFacts, choose_victims, count_replicas
from modelplane.controllers.rollout import (
    Condition,
    ConditionStatus,
    ConditionType,
    RevisionState,
    RolloutSpec,
    RolloutStatus,
    plan_rollout,
)
from modelplane.spec import TEMPLATE_FIELDS, ModelDeploymentSpec
from modelplane.spec.replica import Replica, ReplicaSpec
from modelplane.store import NotFound, Store, StoredObject

log = logging.getLogger("modelplane.deployments")

REVISION = "Revision"
DEPLOYMENT_LABEL = "modelplane.dev/deployment"
REVISION_LABEL = "modelplane.dev/revision"


def template_revision(spec: Mapping[str, Any]) -> str:
    """A short hash of what makes a replica: a change here is a new revision (pod-template-hash)."""
    template = {k: spec.get(k) for k in TEMPLATE_FIELDS}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def desired_replicas(spec: Mapping[str, Any]) -> int:
    """spec.replicas; with autoscaling, minReplicas until the autoscaler (issue 5) decides."""
    autoscaling = spec.get("autoscaling")
    if autoscaling:
        return max(int(autoscaling.get("minReplicas", 1)), 0)
    return int(spec.get("replicas", 1))


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
    desired = desired_replicas(deployment.spec)
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


def reconcile(
    store: Store, deployment: StoredObject, *, now: float, rng: random.Random, logs_dir: Path | None = None
) -> None:
    """Bring one deployment's revisions and replicas in line with its spec (idempotent)."""
    namespace, name = deployment.namespace, deployment.name
    owned = [r for r in store.list("Replica", namespace=namespace) if r.spec.get("deployment") == name]
    revisions = [r for r in store.list(REVISION, namespace=namespace) if r.spec.get("deployment") == name]
    if deployment.deletion_timestamp is not None:
        _delete_everything(store, deployment, owned, revisions, now=now)
        return
    spec = ModelDeploymentSpec.model_validate(deployment.spec)
    desired_hash = template_revision(deployment.spec)
    rollback = dict(deployment.status.get("rollback") or {})
    if rollback.get("from") != desired_hash:
        rollback = {}  # the spec changed since: roll out what it asks for now
    hashes = {r.spec.get("templateHash") for r in revisions}
    template_hash = rollback["to"] if rollback.get("to") in hashes else desired_hash
    rollout = RolloutSpec.from_spec(
        name,
        spec,
        template_hash=template_hash,
        generation=deployment.generation,
        replicas=desired_replicas(deployment.spec),
        paused=spec.paused,
    )
    replica_facts = [facts(r) for r in owned]
    states = [revision_state(r, replica_facts, min_ready=spec.min_ready_seconds, now=now) for r in revisions]
    step = plan_rollout(rollout, states, now=now, previous=previous_status(deployment.status))
    ref = {"kind": "ModelDeployment", "namespace": namespace, "name": name}
    if step.create is not None:
        created = step.create
        store.create(
            REVISION,
            namespace,
            created.name,
            labels={DEPLOYMENT_LABEL: name, REVISION_LABEL: template_hash},
            spec={
                "deployment": name,
                "number": created.number,
                "templateHash": template_hash,
                "template": dict(deployment.spec),
                "replicas": created.spec_replicas,
                "desiredReplicas": created.desired_replicas,
                "maxReplicas": created.max_replicas,
                "history": list(created.history),
            },
            now=now,
        )
    by_name = {r.name: r for r in revisions}
    for change in step.scale:
        current = by_name.get(change.revision)
        if current is None:
            continue
        store.update(
            REVISION,
            namespace,
            change.revision,
            spec={
                **current.spec,
                "replicas": change.to_replicas,
                "desiredReplicas": change.desired_replicas,
                "maxReplicas": change.max_replicas,
            },
            expected_rv=None,
            now=now,
        )
    if step.renumber is not None and step.renumber.name in by_name:
        current = store.get(REVISION, namespace, step.renumber.name)
        spec_update = {**current.spec, "number": step.renumber.number, "history": list(step.renumber.history)}
        store.update(REVISION, namespace, step.renumber.name, spec=spec_update, expected_rv=None, now=now)
    for old in step.delete:
        with contextlib.suppress(NotFound):
            store.remove(REVISION, namespace, old)
    for message in step.events:
        reason = "ScalingReplicaSet" if message.startswith("Scaled") else "RevisionCreated"
        store.record_event(**ref, type="Normal", reason=reason, message=message, now=now)
    current_revisions = [
        r for r in store.list(REVISION, namespace=namespace) if r.spec.get("deployment") == name
    ]
    refusals = [
        _sync_replicas(store, deployment, revision, owned, rng=rng, now=now) for revision in current_revisions
    ]
    refusal = next((r for r in refusals if r), None)
    numbers = {r.spec["templateHash"]: int(r.spec["number"]) for r in current_revisions}
    # the last two revisions that were fully available: a revision that breaks after completing its
    # rollout goes back to the one before it
    last_available = deployment.status.get("lastAvailable")
    previous_available = deployment.status.get("previousAvailable")
    available_now = _fully_available(step.status, states, replicas=rollout.replicas, current=template_hash)
    if available_now is not None and available_now != last_available:
        last_available, previous_available = available_now, last_available
    status: dict[str, Any] = {
        **step.status.to_dict(),
        "revision": numbers.get(template_hash, 0),
        "templateHash": template_hash,
        "lastAvailable": last_available,
        "previousAvailable": previous_available,
    }
    budget = disruption_status(deployment, spec, replica_facts, now=now)
    if budget is not None:
        status["disruptionBudget"] = budget_json(budget, from_spec=spec.disruption_budget is not None)
    good = last_available if last_available != desired_hash else previous_available
    if not rollback and spec.strategy.auto_rollback and good and good != desired_hash and good in numbers:
        deadline = spec.strategy.progress_deadline_seconds
        cause = _failure(step.status, owned, desired_hash, deadline=deadline, logs_dir=logs_dir)
        if cause is not None:
            rollback = {"from": desired_hash, "to": good, "cause": cause, "at": now}
            bad_number = numbers.get(desired_hash, "?")
            message = f"Rolled back from revision {bad_number} to revision {numbers[good]}: {cause}"
            store.record_event(**ref, type="Warning", reason="RolledBack", message=message, now=now)
            log.warning("deployment %s/%s: %s", namespace, name, message)
    if refusal is not None:
        status["conditions"] = [
            *status["conditions"],
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": refusal},
        ]
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
    if deployment.status != status:
        store.update_status("ModelDeployment", namespace, name, status, now=now)


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
    owned: Sequence[StoredObject],
    template_hash: str,
    *,
    deadline: int,
    logs_dir: Path | None,
) -> str | None:
    """Why the revision `template_hash` is failing, or None: past its progress deadline, a replica
    crash-looping, or a replica that lost readiness after it had taken traffic."""
    progressing = status.condition(ConditionType.PROGRESSING)
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        why = f"{progressing.reason}, {progressing.message}"
        return f"it made no progress for progressDeadlineSeconds ({deadline} s): {why}"
    for replica in owned:
        if replica.spec.get("revision") != template_hash or replica.deletion_timestamp is not None:
            continue
        state = replica.status
        waiting = state.get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            last = state.get("lastExit") or {}
            tail = owners.log_tail(logs_dir, replica.namespace, replica.name)
            exited = f"last exit {last.get('reason')}, code {last.get('code')}"
            return f"replica {replica.name} is crash-looping ({exited})" + (
                f"; its log ends: {tail}" if tail else ""
            )
        if state.get("everReady") and not state.get("ready") and state.get("phase") == "Running":
            return f"replica {replica.name} failed its readiness probe after taking traffic"
    return None


def _sync_replicas(
    store: Store,
    deployment: StoredObject,
    revision: StoredObject,
    owned: Sequence[StoredObject],
    *,
    rng: random.Random,
    now: float,
) -> str | None:
    """The ReplicaSet controller for one revision: as many live replicas as `spec.replicas`. Returns
    the quota refusal that stopped a creation, if any (the deployment shows it as ReplicaFailure)."""
    template_hash = revision.spec["templateHash"]
    mine = [r for r in owned if r.spec.get("revision") == template_hash]
    live = [facts(r) for r in mine if r.deletion_timestamp is None]
    diff = int(revision.spec["replicas"]) - len(live)
    ref = {"kind": "ModelDeployment", "namespace": deployment.namespace, "name": deployment.name}
    if diff > 0:
        return owners.create_replicas(
            store,
            ref,
            revision.spec["template"].get("resources") or {},
            diff,
            lambda resources: new_replica(deployment, revision, rng, resources=resources),
            now=now,
        )
    elif diff < 0:
        related = [facts(r) for r in owned]
        for victim in choose_victims(live, -diff, related=related):
            store.mark_deleted("Replica", deployment.namespace, victim, now=now)
            store.record_event(
                **ref, type="Normal", reason="SuccessfulDelete", message=f"Deleted replica: {victim}", now=now
            )
    return None


def _delete_everything(
    store: Store,
    deployment: StoredObject,
    owned: Sequence[StoredObject],
    revisions: Sequence[StoredObject],
    *,
    now: float,
) -> None:
    for replica in owned:
        if replica.deletion_timestamp is None:
            store.mark_deleted("Replica", replica.namespace, replica.name, now=now)
    if owned:
        return
    for revision in revisions:
        with contextlib.suppress(NotFound):
            store.remove(REVISION, revision.namespace, revision.name)
    store.remove("ModelDeployment", deployment.namespace, deployment.name)


def new_replica(
    deployment: StoredObject,
    revision: StoredObject,
    rng: random.Random,
    *,
    resources: Mapping[str, Any] | None = None,
) -> Replica:
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    template = revision.spec["template"]
    template_hash = revision.spec["templateHash"]
    # as Kubernetes' generateName: cut the base, never the random suffix
    name = f"{deployment.name}-{template_hash[:5]}"[:57].rstrip("-") + f"-{suffix}"
    labels = {**deployment.labels, DEPLOYMENT_LABEL: deployment.name, REVISION_LABEL: template_hash}
    return Replica(
        name=name,
        namespace=deployment.namespace,
        labels=labels,
        spec=ReplicaSpec(
            deployment=deployment.name,
            revision=template_hash,
            version=template["model"].get("version") or "v1",
            port=0,
            resources=resources if resources is not None else (template.get("resources") or {}),
            probes=template.get("probes") or {},
            grace_seconds=int(template.get("terminationGracePeriodSeconds", 30)),
            template=dict(template),
        ),
    )
