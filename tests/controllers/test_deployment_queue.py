"""The deployment controller's work queue reconciles the deployments whose objects changed, not every
one on every change (a replica turning ready cost a 0.3-0.5 s pass over 1,000 deployments), and still
converges: a whole pass first, after a restart, when the log forgot, and on its resync."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from modelplane.controllers import deployment_queue, deployments
from modelplane.controllers.deployment_queue import DeploymentQueue, dirty
from modelplane.store import Change, ChangeType, Store, StoredObject, objects

SPEC: dict[str, Any] = {"model": {"format": "simulated", "version": "v1", "params": {}}, "replicas": 2}


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The deployments a pass reconciled, in order."""
    seen: list[str] = []
    real = deployments.decide

    def counting(deployment: StoredObject, *args: Any, **kwargs: Any) -> Any:
        seen.append(deployment.name)
        return real(deployment, *args, **kwargs)

    monkeypatch.setattr(deployments, "decide", counting)
    return seen


def ten_deployments(store: Store) -> None:
    for i in range(10):
        store.create("ModelDeployment", "default", f"d{i}", labels={}, spec=SPEC, now=1.0)


def settle(queue: DeploymentQueue, store: Store, *, now: float) -> None:
    """Passes until one writes nothing (a pass's own writes wake it once more)."""
    for _ in range(5):
        rv = store.current_rv()
        queue.run_once(now=now)
        if store.current_rv() == rv:
            return
    raise AssertionError("the deployments never settled")


def make_ready(store: Store, name: str, *, now: float) -> None:
    for r in store.list("Replica"):
        if r.spec["deployment"] == name:
            status = {**r.status, "phase": "Running", "ready": True, "readySince": now}
            store.update_status("Replica", "default", r.name, status, now=now)


def test_a_replica_turning_ready_reconciles_its_deployment_only(tmp_path: Path, decided: list[str]) -> None:
    store = Store(tmp_path)
    ten_deployments(store)
    queue = DeploymentQueue(store, rng=random.Random(1))
    queue.run_once(now=2.0)
    assert sorted(decided) == [f"d{i}" for i in range(10)]  # the first pass: every one
    settle(queue, store, now=2.1)
    decided.clear()
    make_ready(store, "d3", now=3.0)
    queue.run_once(now=3.0)
    assert decided == ["d3"]  # reconcile_all: all ten
    assert store.get("ModelDeployment", "default", "d3").status["readyReplicas"] == 2
    decided.clear()
    settle(queue, store, now=3.1)  # d3's status write wakes d3 alone
    assert set(decided) == {"d3"}


def test_a_new_queue_on_the_same_store_converges_as_one_pass_over_everything(
    tmp_path: Path, decided: list[str]
) -> None:
    store = Store(tmp_path)
    ten_deployments(store)
    settle(DeploymentQueue(store, rng=random.Random(1)), store, now=2.0)
    for name in ("d1", "d7"):
        make_ready(store, name, now=3.0)
    decided.clear()
    DeploymentQueue(store, rng=random.Random(1)).run_once(now=4.0)  # a restart: nothing remembered
    assert len(decided) == 10
    ready = {d.name: d.status.get("readyReplicas") for d in store.list("ModelDeployment")}
    assert ready["d1"] == ready["d7"] == 2 and ready["d2"] == 0


def test_deployments_come_back_when_they_asked_and_everything_on_the_resync(
    tmp_path: Path, decided: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployment_queue, "FULL_RESYNC_S", 60.0)
    store = Store(tmp_path)
    ten_deployments(store)
    spec = {**SPEC, "minReadySeconds": 10}
    store.update("ModelDeployment", "default", "d5", spec=spec, expected_rv=None, now=1.0)
    queue = DeploymentQueue(store, rng=random.Random(1))
    settle(queue, store, now=2.0)
    make_ready(store, "d5", now=3.0)
    settle(queue, store, now=3.0)
    assert queue.run_once(now=3.0) == pytest.approx(0.01 + 10, abs=0.1)  # d5 at 13.01, before the resync
    decided.clear()
    assert queue.run_once(now=13.5) is not None
    assert decided == ["d5"]
    assert store.get("ModelDeployment", "default", "d5").status["availableReplicas"] == 2
    decided.clear()
    queue.run_once(now=2.0 + deployment_queue.FULL_RESYNC_S + 20)
    assert len(decided) == 10


def test_a_forgetful_log_or_a_flood_of_changes_makes_a_whole_pass(
    tmp_path: Path, decided: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    ten_deployments(store)
    queue = DeploymentQueue(store, rng=random.Random(1))
    settle(queue, store, now=2.0)
    monkeypatch.setattr(objects, "CHANGES_KEPT", 2)
    for name in ("d1", "d2", "d3"):
        make_ready(store, name, now=3.0)
    decided.clear()
    queue.run_once(now=3.0)
    assert len(decided) == 10
    assert {d.name for d in store.list("ModelDeployment") if d.status.get("readyReplicas") == 2} == {
        "d1",
        "d2",
        "d3",
    }


def test_replicas_coming_or_going_under_a_quota_concern_every_deployment_of_the_namespace(
    tmp_path: Path, decided: list[str]
) -> None:
    store = Store(tmp_path)
    quota = {"quota": {"cpu": "2"}, "defaults": {"limits": {"cpu": "1"}}}
    store.create("Namespace", "", "q", labels={}, spec=quota, now=1.0)
    spec = {**SPEC, "replicas": 1}
    for name in ("a", "b", "c"):
        store.create("ModelDeployment", "q", name, labels={}, spec=spec, now=1.0)
    queue = DeploymentQueue(store, rng=random.Random(1))
    settle(queue, store, now=2.0)
    assert len(store.list("Replica", namespace="q")) == 2  # the quota holds the third
    store.remove("ModelDeployment", "q", sorted(r.spec["deployment"] for r in store.list("Replica"))[0])
    settle(queue, store, now=3.0)  # the removed one's replica goes; then the refused one fits
    assert len({r.spec["deployment"] for r in store.list("Replica", namespace="q")}) == 2


def test_dirty_names_the_owners_of_what_changed() -> None:
    def change(kind: str, namespace: str, name: str, spec: dict[str, Any], type_: ChangeType) -> Change:
        obj = StoredObject(kind, namespace, name, "uid", 1, 1, {}, spec, {}, 0.0, 0.0, None)
        return Change(type_, obj, 1)

    keys, members, changed = dirty(
        [
            change("Replica", "a", "r1", {"deployment": "m"}, ChangeType.MODIFIED),
            change("Replica", "b", "r2", {"deployment": "n"}, ChangeType.ADDED),
            change("Replica", "c", "job-r", {}, ChangeType.DELETED),  # a Job's: no deployment
            change(deployments.REVISION, "a", "m-1", {"deployment": "o"}, ChangeType.ADDED),
            change("ModelDeployment", "d", "p", {}, ChangeType.MODIFIED),
            change("Namespace", "", "e", {}, ChangeType.MODIFIED),
        ]
    )
    assert keys == {("a", "m"), ("b", "n"), ("a", "o"), ("d", "p")}
    assert members == {"b", "c"}
    assert changed == {"e"}
