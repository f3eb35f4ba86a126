"""The deployment controller: keeps the right number of Replica objects for each ModelDeployment.

Level-triggered: `reconcile` reads the deployment and its replicas fresh from the store, `plan`
(pure) says what to create and delete, and the effects are applied idempotently. Run on every store
change and on a 1 s resync.

Until rolling updates land (issue 4), a new revision is rolled out as maxSurge 100% /
maxUnavailable 0: the new revision's replicas are all created at once, and the old ones are deleted
when the new ones are all ready — never fewer ready replicas than before, never a gap in service.
Scale-down picks victims in Kubernetes' order (controller.ActivePodsWithRanks): unscheduled before
scheduled, pending before running, not ready before ready, newer before older.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelplane.spec.replica import Replica, ReplicaSpec
from modelplane.store import Store, StoredObject

TEMPLATE_FIELDS = (
    "model",
    "resources",
    "nodeSelector",
    "tolerations",
    "batching",
    "probes",
    "terminationGracePeriodSeconds",
)
DEPLOYMENT_LABEL = "modelplane.dev/deployment"
REVISION_LABEL = "modelplane.dev/revision"
_PHASE_RANK = {"Pending": 0, "Scheduled": 1, "Starting": 2, "Running": 3}


def template_revision(spec: Mapping[str, Any]) -> str:
    """A short hash of what makes a replica: a change here is a new revision (pod-template-hash)."""
    template = {k: spec.get(k) for k in TEMPLATE_FIELDS}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ReplicaView:
    name: str
    revision: str
    phase: str
    ready: bool
    scheduled: bool
    created: float
    deleting: bool


@dataclass(frozen=True)
class Plan:
    revision: str
    create: int = 0
    delete: tuple[str, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)


def desired_replicas(spec: Mapping[str, Any]) -> int:
    """spec.replicas; with autoscaling, minReplicas until the autoscaler (issue 5) decides."""
    autoscaling = spec.get("autoscaling")
    if autoscaling:
        return max(int(autoscaling.get("minReplicas", 1)), 0)
    return int(spec.get("replicas", 1))


def plan(
    spec: Mapping[str, Any], replicas: Sequence[ReplicaView], *, deleting: bool, generation: int
) -> Plan:
    revision = template_revision(spec)
    desired = 0 if deleting else desired_replicas(spec)
    live = [r for r in replicas if not r.deleting]
    current = [r for r in live if r.revision == revision]
    old = [r for r in live if r.revision != revision]
    create = max(desired - len(current), 0)
    delete: list[str] = []
    if len(current) > desired:
        delete += [r.name for r in sorted(current, key=_victim_rank)[: len(current) - desired]]
    ready_current = sum(r.ready for r in current)
    if old and (ready_current >= desired or deleting):
        delete += [r.name for r in old]
    ready = sum(r.ready for r in live)
    status = {
        "observedGeneration": generation,
        "revision": revision,
        "replicas": len(live),
        "updatedReplicas": len(current),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(desired - ready, 0),
        "desiredReplicas": desired,
        "conditions": _conditions(desired=desired, ready=ready, updated=len(current), old=len(old)),
    }
    return Plan(revision=revision, create=create, delete=tuple(delete), status=status)


def _victim_rank(r: ReplicaView) -> tuple[int, int, int, float]:
    return (int(r.scheduled), _PHASE_RANK.get(r.phase, 3), int(r.ready), -r.created)


def _conditions(*, desired: int, ready: int, updated: int, old: int) -> list[dict[str, Any]]:
    available = ready >= desired
    complete = updated >= desired and old == 0 and available
    return [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
        },
        {
            "type": "Progressing",
            "status": "True",
            "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
        },
    ]


def view(replica: StoredObject) -> ReplicaView:
    status, spec = replica.status, replica.spec
    return ReplicaView(
        name=replica.name,
        revision=spec.get("revision", ""),
        phase=status.get("phase", "Pending"),
        ready=bool(status.get("ready")),
        scheduled=spec.get("pool") is not None,
        created=replica.created,
        deleting=replica.deletion_timestamp is not None,
    )


def reconcile(store: Store, deployment: StoredObject, *, now: float, rng: random.Random) -> None:
    """Bring one deployment's replicas in line with its spec (idempotent)."""
    namespace, name = deployment.namespace, deployment.name
    owned = [r for r in store.list("Replica", namespace=namespace) if r.spec.get("deployment") == name]
    deleting = deployment.deletion_timestamp is not None
    if deleting and not owned:
        store.remove("ModelDeployment", namespace, name)
        return
    decided = plan(
        deployment.spec, [view(r) for r in owned], deleting=deleting, generation=deployment.generation
    )
    for _ in range(decided.create):
        replica = _new_replica(deployment, decided.revision, rng)
        store.create(
            "Replica",
            namespace,
            replica.name,
            labels=replica.labels,
            spec=replica.spec.model_dump(mode="json", by_alias=True),
            status=replica.status.model_dump(mode="json", by_alias=True),
            now=now,
        )
        store.record_event(
            kind="ModelDeployment",
            namespace=namespace,
            name=name,
            type="Normal",
            reason="SuccessfulCreate",
            message=f"Created replica: {replica.name}",
            now=now,
        )
    for victim in decided.delete:
        store.mark_deleted("Replica", namespace, victim, now=now)
        store.record_event(
            kind="ModelDeployment",
            namespace=namespace,
            name=name,
            type="Normal",
            reason="SuccessfulDelete",
            message=f"Deleted replica: {victim}",
            now=now,
        )
    if not deleting and deployment.status != decided.status:
        store.update_status("ModelDeployment", namespace, name, decided.status, now=now)


def _new_replica(deployment: StoredObject, revision: str, rng: random.Random) -> Replica:
    suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    spec = deployment.spec
    # as Kubernetes' generateName: cut the base, never the random suffix
    name = f"{deployment.name}-{revision[:5]}"[:57].rstrip("-") + f"-{suffix}"
    labels = {**deployment.labels, DEPLOYMENT_LABEL: deployment.name, REVISION_LABEL: revision}
    return Replica(
        name=name,
        namespace=deployment.namespace,
        labels=labels,
        spec=ReplicaSpec(
            deployment=deployment.name,
            revision=revision,
            version=spec["model"].get("version") or "v1",
            port=0,
            resources=spec.get("resources") or {},
            probes=spec.get("probes") or {},
            grace_seconds=int(spec.get("terminationGracePeriodSeconds", 30)),
            template=dict(spec),
        ),
    )
