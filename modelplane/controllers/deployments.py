"""The deployment controller: revisions (ReplicaSets) of each ModelDeployment, and their replicas.

Level-triggered: the controller manager (controllers/manager.py) runs a pass on every store change,
when a deployment asked to be looked at again (`requeue_after`), and on a slow resync. For each
deployment, `reconcile` reads its Revision and Replica objects fresh from the store, asks the pure
`deployment_plan.decide` for the whole pass (the rollout planner's step, the replicas each revision
needs, the status, an automatic rollback), and `apply`s it: idempotent writes, so a pass repeated
on the same state writes nothing.

A revision is keyed by a hash of the replica template (`modelplane.spec.template_hash`); replicas carry it in
`spec.revision`. A deleted deployment scales everything to 0 and goes once its replicas are gone.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from modelplane.controllers import owners
from modelplane.controllers.deployment_plan import (
    DEPLOYMENT_LABEL,
    REVISION,
    REVISION_LABEL,
    DeploymentPlan,
    ReplicaCreation,
    budget_json,
    decide,
    disruption_status,
    facts,
)
from modelplane.spec.replica import Replica, ReplicaSpec
from modelplane.store import NotFound, Store, StoredObject

__all__ = [
    "DEPLOYMENT_LABEL",
    "REVISION",
    "REVISION_LABEL",
    "DeploymentKey",
    "apply",
    "budget_json",
    "decide",
    "disruption_status",
    "facts",
    "new_replica",
    "reconcile",
    "reconcile_all",
    "reconcile_some",
]

log = logging.getLogger("modelplane.deployments")

RETRY_FAILED_S = 1.0
"""A deployment whose reconcile raised is tried again this much later (sooner on any change)."""


def reconcile_all(
    store: Store, *, now: float, rng: random.Random, logs_dir: Path | None = None
) -> float | None:
    """One pass over every deployment; the seconds until the soonest asked to be looked at again.
    One broken deployment never stops the others from being reconciled (its failure is logged)."""
    again = reconcile_some(store, None, now=now, rng=rng, logs_dir=logs_dir).values()
    return min((seconds for seconds in again if seconds is not None), default=None)


DeploymentKey = tuple[str, str]
"""(namespace, name) of a ModelDeployment."""


def reconcile_some(
    store: Store,
    keys: Collection[DeploymentKey] | None,
    *,
    now: float,
    rng: random.Random,
    logs_dir: Path | None = None,
) -> dict[DeploymentKey, float | None]:
    """Reconcile the deployments named by `keys` (None: every one) that exist; each one's seconds until
    it must be looked at again. One broken deployment never stops the others (its failure is logged).
    The pass's writes are one store batch: 1,000 deployments turning ready were 1,000 commits."""
    # Replicas and revisions are read once for the pass, not once per deployment: with D deployments
    # and R replicas, a pass decodes R rows instead of D x R (84 s for 2,000 replicas before).
    replicas = _by_deployment(store.list("Replica"), keys)
    revisions = _by_deployment(store.list(REVISION), keys)
    again: dict[DeploymentKey, float | None] = {}
    with store.batch():
        for deployment in store.list("ModelDeployment"):
            key = (deployment.namespace, deployment.name)
            if keys is not None and key not in keys:
                continue
            try:
                again[key] = reconcile(
                    store,
                    deployment,
                    now=now,
                    rng=rng,
                    logs_dir=logs_dir,
                    owned=replicas.get(key, []),
                    revisions=revisions.get(key, []),
                )
            except Exception:
                log.exception("deployment %s/%s: reconcile failed", deployment.namespace, deployment.name)
                again[key] = RETRY_FAILED_S
    return again


def _by_deployment(
    objects: list[StoredObject], keys: Collection[DeploymentKey] | None
) -> dict[DeploymentKey, list[StoredObject]]:
    grouped: dict[DeploymentKey, list[StoredObject]] = {}
    for obj in objects:
        key = (obj.namespace, str(obj.spec.get("deployment", "")))
        if keys is None or key in keys:
            grouped.setdefault(key, []).append(obj)
    return grouped


def reconcile(
    store: Store,
    deployment: StoredObject,
    *,
    now: float,
    rng: random.Random,
    logs_dir: Path | None = None,
    owned: list[StoredObject] | None = None,
    revisions: list[StoredObject] | None = None,
) -> float | None:
    """Bring one deployment's revisions and replicas in line with its spec (idempotent). Returns the
    seconds until it must be looked at again even if nothing changes (None: only on a change).
    `owned` and `revisions`: its replicas and revisions when the caller read them already."""
    namespace, name = deployment.namespace, deployment.name
    if owned is None:
        owned = [r for r in store.list("Replica", namespace=namespace) if r.spec.get("deployment") == name]
    if revisions is None:
        revisions = [r for r in store.list(REVISION, namespace=namespace) if r.spec.get("deployment") == name]
    plan = decide(
        deployment,
        revisions,
        owned,
        now=now,
        log_tail=lambda replica: owners.log_tail(logs_dir, namespace, replica),
    )
    apply(store, deployment, plan, now=now, rng=rng)
    return plan.requeue_after


def apply(
    store: Store, deployment: StoredObject, plan: DeploymentPlan, *, now: float, rng: random.Random
) -> None:
    """Make the plan's writes: revisions, then replicas (each creation through its namespace's
    admission) with their events, then the status, written only when it differs from the stored one."""
    namespace, name = deployment.namespace, deployment.name
    ref = {"kind": "ModelDeployment", "namespace": namespace, "name": name}
    if plan.create_revision is not None:
        created = plan.create_revision
        store.create(REVISION, namespace, created.name, labels=created.labels, spec=created.spec, now=now)
    for revision, spec in plan.update_revisions:
        with contextlib.suppress(NotFound):
            store.update(REVISION, namespace, revision, spec=spec, expected_rv=None, now=now)
    for old in plan.delete_revisions:
        with contextlib.suppress(NotFound):
            store.remove(REVISION, namespace, old)
    for replica in plan.delete_replicas:
        with contextlib.suppress(NotFound):
            store.mark_deleted("Replica", namespace, replica, now=now)
    for event in plan.events:
        store.record_event(**ref, type=event.type, reason=event.reason, message=event.message, now=now)
    refusals = [
        owners.create_replicas(
            store,
            ref,
            creation.template.get("resources") or {},
            creation.count,
            _maker(deployment, creation, rng),
            now=now,
        )
        for creation in plan.create_replicas
    ]
    if plan.rolled_back is not None:
        event = plan.rolled_back
        store.record_event(**ref, type=event.type, reason=event.reason, message=event.message, now=now)
        log.warning("deployment %s/%s: %s", namespace, name, event.message)
    if plan.remove_deployment:
        store.remove("ModelDeployment", namespace, name)
        return
    status = plan.status_with(next((r for r in refusals if r), None))
    if status is not None and deployment.status != status:
        store.update_status("ModelDeployment", namespace, name, status, now=now)


def _maker(deployment: StoredObject, creation: ReplicaCreation, rng: random.Random) -> owners.MakeReplica:
    return lambda resources: new_replica(deployment, creation, rng, resources=resources)


def new_replica(
    deployment: StoredObject,
    creation: ReplicaCreation,
    rng: random.Random,
    *,
    resources: Mapping[str, Any] | None = None,
) -> Replica:
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    template = creation.template
    template_hash = creation.template_hash
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
