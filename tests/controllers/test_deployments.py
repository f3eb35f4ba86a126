"""The deployment controller against a real store: revisions, rolling updates, scale, delete.

Replicas are made ready by hand here (no processes): this tests the controller's bookkeeping; the
processes are tested end to end in tests/api.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from modelplane.controllers.deployments import REVISION, reconcile, reconcile_all
from modelplane.spec import ModelDeploymentSpec, template_hash
from modelplane.store import Store

SPEC: dict[str, Any] = {
    "model": {"format": "simulated", "version": "v1", "params": {}},
    "replicas": 4,
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
}


def hash_of(spec: dict[str, Any]) -> str:
    """The template hash of a spec written as the API stores it (the owner: modelplane.spec)."""
    return template_hash(ModelDeploymentSpec.model_validate(spec))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


RNG = random.Random(1)


def run(store: Store, now: float) -> None:
    reconcile(store, store.get("ModelDeployment", "default", "m"), now=now, rng=RNG)


def replicas(store: Store, *, live: bool = True) -> list[Any]:
    return [r for r in store.list("Replica") if not live or r.deletion_timestamp is None]


def make_ready(store: Store, now: float) -> None:
    for r in replicas(store):
        if not r.status.get("ready"):
            status = {**r.status, "phase": "Running", "ready": True, "readySince": now - 1}
            store.update(
                "Replica",
                "default",
                r.name,
                spec={**r.spec, "pool": "local"},
                status=status,
                expected_rv=None,
                now=now,
            )


def drop_deleted(store: Store) -> None:
    for r in replicas(store, live=False):
        if r.deletion_timestamp is not None:
            store.remove("Replica", "default", r.name)


def test_a_new_deployment_gets_revision_1_and_its_replicas(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec=SPEC, now=0)
    for t in range(3):
        run(store, now=float(t))
    revisions = store.list(REVISION)
    assert [(r.spec["number"], r.spec["replicas"]) for r in revisions] == [(1, 4)]
    assert len(replicas(store)) == 4
    assert {r.spec["revision"] for r in replicas(store)} == {hash_of(SPEC)}
    make_ready(store, now=5)
    run(store, now=6)
    status = store.get("ModelDeployment", "default", "m").status
    assert status["readyReplicas"] == 4 and status["availableReplicas"] == 4 and status["revision"] == 1
    assert status["disruptionBudget"] == {  # the PodDisruptionBudget status of the default budget
        "maxUnavailable": 1, "source": "default",
        "expectedPods": 4, "desiredHealthy": 3, "currentHealthy": 4, "disruptionsAllowed": 1,
    }  # fmt: skip


def test_a_rolling_update_stays_within_surge_and_unavailable_at_every_step(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec=SPEC, now=0)
    for t in range(3):
        run(store, now=float(t))
    make_ready(store, now=3)
    run(store, now=4)
    v2 = {**SPEC, "model": {**SPEC["model"], "version": "v2"}}
    store.apply("ModelDeployment", "default", "m", labels={}, spec=v2, now=10)
    new_hash = hash_of(v2)
    for step in range(40):
        now = 11.0 + step
        run(store, now=now)
        live = replicas(store)
        ready = [r for r in live if r.status.get("ready")]
        assert len(live) <= 4 + 1, f"step {step}: {len(live)} replicas, more than replicas + maxSurge"
        assert len(ready) >= 4 - 1, f"step {step}: {len(ready)} ready, fewer than replicas - maxUnavailable"
        drop_deleted(store)
        make_ready(store, now=now)
        if all(r.spec["revision"] == new_hash for r in replicas(store)) and len(replicas(store)) == 4:
            break
    else:
        raise AssertionError("the rollout did not finish")
    run(store, now=100)
    numbers = sorted((r.spec["number"], r.spec["replicas"]) for r in store.list(REVISION))
    assert numbers == [(1, 0), (2, 4)]
    status = store.get("ModelDeployment", "default", "m").status
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable" and status["revision"] == 2


def test_reapplying_an_old_template_reuses_its_revision_renumbered(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec={**SPEC, "replicas": 1}, now=0)
    v2 = {**SPEC, "replicas": 1, "model": {**SPEC["model"], "version": "v2"}}
    for spec, start in ((v2, 10.0), ({**SPEC, "replicas": 1}, 50.0)):
        for t in range(20):
            run(store, now=start + t - 9)
            drop_deleted(store)
            make_ready(store, now=start + t - 9)
        store.apply("ModelDeployment", "default", "m", labels={}, spec=spec, now=start)
    for t in range(20):
        run(store, now=80.0 + t)
        drop_deleted(store)
        make_ready(store, now=80.0 + t)
    by_hash = {r.spec["templateHash"]: r.spec for r in store.list(REVISION)}
    assert by_hash[hash_of(SPEC)]["number"] == 3
    assert by_hash[hash_of(SPEC)]["history"] == [1]


def test_scaling_changes_the_current_revision_only(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec=SPEC, now=0)
    run(store, now=1)
    make_ready(store, now=2)
    store.apply("ModelDeployment", "default", "m", labels={}, spec={**SPEC, "replicas": 2}, now=3)
    run(store, now=4)
    assert len(replicas(store)) == 2 and len(store.list(REVISION)) == 1


def test_a_deleted_deployment_takes_its_replicas_and_revisions_with_it(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec=SPEC, now=0)
    run(store, now=1)
    store.mark_deleted("ModelDeployment", "default", "m", now=2)
    run(store, now=3)
    assert replicas(store) == [] and len(replicas(store, live=False)) == 4
    drop_deleted(store)
    run(store, now=4)
    assert store.find("ModelDeployment", "default", "m") is None and store.list(REVISION) == []


def test_an_old_revision_fully_available_during_a_rollout_is_where_a_rollback_goes(store: Store) -> None:
    """v1's replicas pass minReadySeconds only after v2 is applied; then v2's replica, ready but not yet
    available, fails readiness: the deployment rolls back to v1, which had every replica available."""
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    v1 = {**SPEC, "replicas": 2, "minReadySeconds": 30, "strategy": rolling}
    v2 = {**v1, "model": {**SPEC["model"], "version": "v2"}}
    store.apply("ModelDeployment", "default", "m", labels={}, spec=v1, now=0)
    run(store, now=1)
    make_ready(store, now=2)  # available from 31 s on
    store.apply("ModelDeployment", "default", "m", labels={}, spec=v2, now=5)
    for t in (6.0, 7.0):
        run(store, now=t)
    make_ready(store, now=20)  # v2's surge replica: available from 49 s on
    run(store, now=40)
    assert store.get("ModelDeployment", "default", "m").status["lastAvailable"] == hash_of(v1)
    [broken] = [r for r in replicas(store) if r.spec["revision"] == hash_of(v2)]
    status = {**broken.status, "ready": False, "everReady": True}
    store.update("Replica", "default", broken.name, spec=broken.spec, status=status, expected_rv=None, now=41)
    run(store, now=42)
    rollback = store.get("ModelDeployment", "default", "m").status["rollback"]
    assert rollback["to"] == hash_of(v1), rollback
    assert "failed its readiness probe after taking traffic" in rollback["cause"], rollback


def test_a_pass_over_all_deployments_survives_a_broken_one_and_says_when_to_look_again(store: Store) -> None:
    store.apply("ModelDeployment", "default", "broken", labels={}, spec={"model": {"format": "nope"}}, now=0)
    spec = {**SPEC, "minReadySeconds": 10}
    store.apply("ModelDeployment", "default", "m", labels={}, spec=spec, now=0)
    reconcile_all(store, now=1.0, rng=RNG)
    assert len(replicas(store)) == 4  # the good one was reconciled
    make_ready(store, now=2.0)  # ready since 1.0: available just after 11.0
    again = reconcile_all(store, now=2.0, rng=RNG)
    assert again == pytest.approx(1.0)  # the broken one is retried in a second; sooner than 9 s
    store.remove("ModelDeployment", "default", "broken")
    assert reconcile_all(store, now=2.0, rng=RNG) == pytest.approx(9.01)
    assert reconcile_all(store, now=12.0, rng=RNG) is None  # all available: nothing to wait for


def test_events_say_what_the_rollout_did_before_the_replicas_it_created(store: Store) -> None:
    store.apply("ModelDeployment", "default", "m", labels={}, spec=SPEC, now=0)
    run(store, now=1.0)
    reasons = [e.reason for e in store.events(kind="ModelDeployment", name="m")]
    assert reasons[0] == "RevisionCreated" and set(reasons[1:]) == {"SuccessfulCreate"}, reasons
