"""The scheduling loop: places Pending replicas on node pools (kube-scheduler's job).

Every 0.5 s: pools are built from the machine and the NodePool objects, allocations from the
replicas already placed, and each unplaced replica (oldest first) is given to the pure
`modelplane.scheduler.schedule`. A placement sets `spec.pool` and `spec.gpus` and moves the replica
to Scheduled; a replica that fits nowhere stays Pending with Kubernetes' message, shown by describe
and as a FailedScheduling event (aggregated, like the scheduler's). A pass's bindings and events are
written in one store batch: one commit, not one per replica.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping

from modelplane.controllers.objects import dump, nodepool_of
from modelplane.runtime.node import replica_of  # the node agent owns the typed view of a Replica
from modelplane.scheduler import (
    Allocation,
    Demand,
    Machine,
    Placement,
    Pool,
    ScoringStrategy,
    allocations_of,
    build_pools,
    detect_machine,
    schedule,
)
from modelplane.spec import Toleration
from modelplane.spec.replica import Replica, ReplicaPhase
from modelplane.store import Store

log = logging.getLogger("modelplane.scheduling")


class Scheduling:
    def __init__(
        self,
        store: Store,
        *,
        rng: random.Random,
        strategy: ScoringStrategy = ScoringStrategy.LEAST_ALLOCATED,
        machine: Machine | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.rng = rng
        self.strategy = strategy
        self.machine = machine or detect_machine(env=env if env is not None else dict(os.environ))
        self._warned: set[str] = set()

    def run_once(self, *, now: float) -> None:
        stored = self.store.list("Replica")
        if all(s.spec.get("pool") is not None or s.deletion_timestamp is not None for s in stored):
            return  # nothing waits: no replica is parsed (a pass over 10,000 placed ones stays cheap)
        replicas = [replica_of(s) for s in stored]
        waiting = [r for r in replicas if r.spec.pool is None and r.deletion_timestamp is None]
        if not waiting:
            return
        nodepools = [nodepool_of(p) for p in self.store.list("NodePool")]
        cordoned = [p.metadata.name for p in nodepools if p.spec.unschedulable]
        built = build_pools(self.machine, nodepools, cordoned=cordoned)
        for warning in built.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                log.warning("%s", warning)
        allocations = allocations_of(replicas)
        created = {s.name: s.created for s in stored}
        with self.store.batch():  # every binding of the pass in one transaction, not one each
            self._bind(sorted(waiting, key=lambda r: created.get(r.name, 0.0)), built.pools, allocations, now)

    def _bind(
        self, waiting: list[Replica], pools: list[Pool], allocations: dict[str, Allocation], now: float
    ) -> None:
        for replica in waiting:
            template = replica.spec.template
            demand = Demand.of(
                replica.spec.resources,
                node_selector=template.get("nodeSelector") or {},
                tolerations=[Toleration.model_validate(t) for t in template.get("tolerations") or []],
            )
            decision = schedule(demand, pools, allocations, strategy=self.strategy, rng=self.rng)
            ref = {"kind": "Replica", "namespace": replica.namespace, "name": replica.name}
            if isinstance(decision, Placement):
                spec = replica.spec.model_copy(
                    update={"pool": decision.pool, "gpus": list(decision.gpu_indices)}
                )
                status = replica.status.model_copy(
                    update={"phase": ReplicaPhase.SCHEDULED, "message": "", "waiting": None}
                )
                self.store.update(
                    "Replica",
                    replica.namespace,
                    replica.name,
                    spec=dump(spec),
                    status=dump(status),
                    expected_rv=None,
                    now=now,
                )
                allocations = {
                    **allocations,
                    decision.pool: allocations.get(decision.pool, Allocation()).plus(
                        demand, decision.gpu_indices
                    ),
                }
                self.store.record_event(
                    **ref,
                    type="Normal",
                    reason="Scheduled",
                    message=f"Successfully assigned {replica.namespace}/{replica.name} to {decision.pool}",
                    now=now,
                )
                continue
            if replica.status.message != decision.message:
                status = replica.status.model_copy(
                    update={
                        "message": decision.message,
                        "waiting": {"reason": "Unschedulable", "message": decision.message},
                    }
                )
                self.store.update_status("Replica", replica.namespace, replica.name, dump(status), now=now)
            self.store.record_event(
                **ref, type="Warning", reason="FailedScheduling", message=decision.message, now=now
            )
