"""What one pass of a loop reads grows with the objects, not with their square (issue 8 §6: 2,000
replicas of one deployment blocked the control plane for 84 s). Counted, not timed: how often a pass
lists the replicas and how many it parses."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from modelplane.controllers import owners, scheduling
from modelplane.controllers.deployments import reconcile_all
from modelplane.controllers.scheduling import Scheduling
from modelplane.scheduler import Machine
from modelplane.spec.replica import Replica
from modelplane.store import Store

SPEC: dict[str, Any] = {"model": {"format": "simulated", "version": "v1", "params": {}}, "replicas": 3}


def count_replica_listings(monkeypatch: pytest.MonkeyPatch, store: Store) -> list[str | None]:
    calls: list[str | None] = []
    real = store.list

    def counting(kind: str, **kwargs: Any) -> Any:
        if kind == "Replica":
            calls.append(kwargs.get("namespace"))
        return real(kind, **kwargs)

    monkeypatch.setattr(store, "list", counting)
    return calls


def test_a_pass_over_many_deployments_lists_the_replicas_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    for i in range(30):
        store.create("ModelDeployment", "default", f"d{i}", labels={}, spec=SPEC, now=1.0)
    reconcile_all(store, now=2.0, rng=random.Random(1))
    assert len(store.list("Replica")) == 90
    listings = count_replica_listings(monkeypatch, store)
    reconcile_all(store, now=3.0, rng=random.Random(1))
    assert len(listings) <= 2  # was one per deployment


def test_creating_many_replicas_under_a_quota_reads_the_namespace_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    store.create("Namespace", "", "default", labels={}, spec={"quota": {"cpu": "100"}}, now=1.0)
    spec = {**SPEC, "replicas": 40, "resources": {"requests": {"cpu": "1"}}}
    store.create("ModelDeployment", "default", "big", labels={}, spec=spec, now=1.0)
    listings = count_replica_listings(monkeypatch, store)
    reconcile_all(store, now=2.0, rng=random.Random(1))
    assert len(store.list("Replica")) == 40
    assert len(listings) <= 3  # was one per replica created


def test_without_a_quota_creating_replicas_reads_no_replica_of_the_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    listings = count_replica_listings(monkeypatch, store)
    names = iter(range(5))

    def make(resources: Any) -> Replica:
        spec = {"deployment": "d", "port": 0, "resources": resources}
        return Replica.model_validate({"name": f"r{next(names)}", "spec": spec})

    owner = {"kind": "ModelDeployment", "namespace": "default", "name": "d"}
    assert owners.create_replicas(store, owner, {}, 5, make, now=1.0) is None
    assert listings == []
    assert len(store.list("Replica")) == 5


def test_a_scheduling_pass_with_nothing_waiting_parses_no_replica(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    for i in range(10):
        spec = {"deployment": "d", "pool": "local"}
        store.create("Replica", "default", f"r{i}", labels={}, spec=spec, now=1.0)
    parsed: list[str] = []
    real = scheduling.replica_of
    monkeypatch.setattr(scheduling, "replica_of", lambda s: parsed.append(s.name) or real(s))
    machine = Machine(cpu_millis=2000, memory_bytes=1 << 30, gpus=())
    Scheduling(store, rng=random.Random(1), machine=machine).run_once(now=2.0)
    assert parsed == []


def count_transactions(store: Store) -> list[str]:
    """The transactions the store begins (every write outside a batch is one, with its commit)."""
    begun: list[str] = []
    store._db._conn.set_trace_callback(lambda s: begun.append(s) if s.startswith("BEGIN IMMEDIATE") else None)
    return begun


def test_creating_and_placing_many_replicas_commits_once_per_deployment_and_once_per_scheduling_pass(
    tmp_path: Path,
) -> None:
    # 10,000 replicas took 42 s to place: each create, event and binding was its own commit
    store = Store(tmp_path)
    for i in range(3):
        store.create("ModelDeployment", "default", f"d{i}", labels={}, spec={**SPEC, "replicas": 40}, now=1.0)
    begun = count_transactions(store)
    reconcile_all(store, now=2.0, rng=random.Random(1))
    assert len(store.list("Replica")) == 120
    assert len(begun) <= 3 * 4  # was 3 x 80 (a create and an event per replica)
    begun.clear()
    machine = Machine(cpu_millis=200_000, memory_bytes=1 << 40, gpus=())
    Scheduling(store, rng=random.Random(1), machine=machine).run_once(now=3.0)
    assert all(r.spec.get("pool") for r in store.list("Replica"))
    assert len(begun) == 1  # was 240 (a binding and a Scheduled event per replica)
    assert len(store.events(kind="Replica", limit=1000)) == 120
    assert len(store.events(kind="ModelDeployment", limit=1000)) >= 120


def test_a_pass_writing_many_deployments_statuses_commits_once(tmp_path: Path) -> None:
    # 1,000 deployments whose replicas turned ready were 1,000 status commits in one pass (30% of the
    # control plane's samples while the bench's first list waited)
    store = Store(tmp_path)
    for i in range(20):
        store.create(
            "ModelDeployment", "default", f"d{i:02}", labels={}, spec={**SPEC, "replicas": 1}, now=1.0
        )
    reconcile_all(store, now=2.0, rng=random.Random(1))
    reconcile_all(store, now=2.0, rng=random.Random(1))
    for replica in store.list("Replica"):
        store.update_status("Replica", "default", replica.name, {"phase": "Ready", "ready": True}, now=3.0)
    begun = count_transactions(store)
    reconcile_all(store, now=4.0, rng=random.Random(1))
    assert [d.status.get("readyReplicas") for d in store.list("ModelDeployment")] == [1] * 20
    assert len(begun) == 1  # was 20
