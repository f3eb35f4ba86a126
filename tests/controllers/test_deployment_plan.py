"""`deployment_plan.decide`, table-tested: a deployment, its revisions and replicas in, one pass's plan out.

No store, no clock: objects are built by hand and `now` is a number. The writes themselves (and that
applying a plan twice changes nothing) are tested against a real store in test_deployments.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.controllers.deployment_plan import REVISION, DeploymentPlan, decide
from modelplane.spec import ModelDeploymentSpec, template_hash
from modelplane.store import StoredObject

SPEC: dict[str, Any] = {"model": {"format": "simulated", "version": "v1"}, "replicas": 3}
V2: dict[str, Any] = {**SPEC, "model": {"format": "simulated", "version": "v2"}}


def hash_of(spec: dict[str, Any]) -> str:
    """The template hash of a spec written as the API stores it (the owner: modelplane.spec)."""
    return template_hash(ModelDeploymentSpec.model_validate(spec))


H1, H2 = hash_of(SPEC), hash_of(V2)


def obj(
    kind: str,
    name: str,
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    *,
    created: float = 0.0,
    deleted: float | None = None,
) -> StoredObject:
    return StoredObject(
        kind=kind, namespace="default", name=name, uid=name, generation=1, resource_version=1, labels={},
        spec=spec, status=status or {}, created=created, updated=created, deletion_timestamp=deleted,
    )  # fmt: skip


def deployment(spec: dict[str, Any] = SPEC, status: dict[str, Any] | None = None, **kw: Any) -> StoredObject:
    return obj("ModelDeployment", "m", spec, status, **kw)


def revision(template: dict[str, Any], number: int, replicas: int) -> StoredObject:
    desired = int(template["replicas"])  # sized for the deployment's replicas: no scaling event
    spec = {
        "deployment": "m", "number": number, "templateHash": hash_of(template),
        "template": template, "replicas": replicas, "desiredReplicas": desired, "maxReplicas": desired + 1,
        "history": [],
    }  # fmt: skip
    return obj(REVISION, f"m-{hash_of(template)}", spec, created=float(number))


def replica(
    name: str, template_hash: str, *, ready: bool = True, since: float = 0.0, **status: Any
) -> StoredObject:
    state = {"phase": "Running", "ready": ready, "readySince": since if ready else None, **status}
    return obj("Replica", name, {"deployment": "m", "revision": template_hash}, state)


def running(template_hash: str, count: int, **kw: Any) -> list[StoredObject]:
    return [replica(f"m-{template_hash[:5]}-{i}", template_hash, **kw) for i in range(count)]


def test_a_new_deployment_gets_its_first_revision_and_all_its_replicas_in_one_pass() -> None:
    plan = decide(deployment(), [], [], now=100.0)
    assert plan.create_revision is not None
    assert plan.create_revision.spec["number"] == 1 and plan.create_revision.spec["replicas"] == 3
    assert [(c.revision, c.template_hash, c.count) for c in plan.create_replicas] == [
        (plan.create_revision.name, H1, 3)
    ]
    assert plan.status is not None and plan.status["templateHash"] == H1


@pytest.mark.parametrize(
    ("spec_replicas", "live", "creates", "deletes"),
    [
        (3, 3, 0, 0),  # in line: nothing to do
        (3, 1, 2, 0),  # too few: create the difference
        (1, 3, 0, 2),  # too many: delete the difference
        (0, 2, 0, 2),  # scaled to 0
    ],
)
def test_each_revision_gets_as_many_live_replicas_as_its_spec_asks(
    spec_replicas: int, live: int, creates: int, deletes: int
) -> None:
    spec = {**SPEC, "replicas": spec_replicas}
    plan = decide(deployment(spec), [revision(spec, 1, spec_replicas)], running(H1, live), now=100.0)
    assert sum(c.count for c in plan.create_replicas) == creates
    assert len(plan.delete_replicas) == deletes
    assert [e.reason for e in plan.events].count("SuccessfulDelete") == deletes


def test_victims_are_the_unready_replicas_first() -> None:
    spec = {**SPEC, "replicas": 1}
    replicas = [replica("a", H1), replica("b", H1, ready=False), replica("c", H1, ready=False)]
    plan = decide(deployment(spec), [revision(spec, 1, 1)], replicas, now=100.0)
    assert sorted(plan.delete_replicas) == ["b", "c"]


def test_a_replica_being_deleted_is_not_counted_and_not_deleted_again() -> None:
    gone = replica("gone", H1)
    gone = obj("Replica", "gone", dict(gone.spec), dict(gone.status), deleted=90.0)
    plan = decide(deployment(), [revision(SPEC, 1, 3)], [*running(H1, 2), gone], now=100.0)
    assert [c.count for c in plan.create_replicas] == [1]
    assert plan.delete_replicas == ()


def test_a_deleted_deployment_deletes_its_replicas_then_its_revisions_and_itself() -> None:
    replicas = running(H1, 2)
    while_replicas = decide(deployment(deleted=50.0), [revision(SPEC, 1, 3)], replicas, now=100.0)
    assert sorted(while_replicas.delete_replicas) == sorted(r.name for r in replicas)
    assert not while_replicas.remove_deployment and while_replicas.status is None
    emptied = decide(deployment(deleted=50.0), [revision(SPEC, 1, 3)], [], now=100.0)
    assert emptied.remove_deployment and emptied.delete_revisions == (f"m-{H1}",)


def test_a_new_template_rolls_forward_with_a_surge() -> None:
    old = revision(SPEC, 1, 3)
    plan = decide(deployment(V2, {"lastAvailable": H1}), [old], running(H1, 3), now=100.0)
    assert plan.create_revision is not None and plan.create_revision.spec["templateHash"] == H2
    assert plan.create_revision.spec["number"] == 2
    assert [(c.template_hash, c.count) for c in plan.create_replicas] == [(H2, 1)]  # 25 % surge of 3 → 1


def test_a_crash_looping_new_revision_is_rolled_back_to_the_last_available_one_with_its_log() -> None:
    revisions = [revision(SPEC, 1, 3), revision(V2, 2, 1)]
    crashing = replica("m-new", H2, ready=False, waiting={"reason": "CrashLoopBackOff"}, lastExit={"code": 1})
    plan = decide(
        deployment(V2, {"lastAvailable": H1}),
        revisions,
        [*running(H1, 3), crashing],
        now=100.0,
        log_tail={"m-new": "ImportError: no module x"}.get,  # type: ignore[arg-type]
    )
    assert plan.status is not None
    rollback = plan.status["rollback"]
    assert (rollback["from"], rollback["to"], rollback["at"]) == (H2, H1, 100.0)
    assert "m-new is crash-looping" in rollback["cause"] and "ImportError: no module x" in rollback["cause"]
    assert plan.rolled_back is not None and plan.rolled_back.reason == "RolledBack"
    assert plan.rolled_back.message.startswith("Rolled back from revision 2 to revision 1: replica m-new")
    assert plan.status["conditions"][-1]["reason"] == "RolledBack"


def test_a_rollback_in_force_rolls_out_the_good_template_until_the_spec_changes() -> None:
    revisions = [revision(SPEC, 1, 3), revision(V2, 2, 0)]
    memory = {"lastAvailable": H1, "rollback": {"from": H2, "to": H1, "cause": "broken", "at": 90.0}}
    plan = decide(deployment(V2, memory), revisions, running(H1, 3), now=100.0)
    assert plan.status is not None and plan.status["templateHash"] == H1
    assert plan.create_replicas == () and plan.status["rollback"]["to"] == H1
    v3 = {**SPEC, "model": {"format": "simulated", "version": "v3"}}
    changed = decide(deployment(v3, memory), revisions, running(H1, 3), now=100.0)
    assert changed.status is not None and "rollback" not in changed.status
    assert changed.status["templateHash"] == hash_of(v3)


def test_without_a_good_revision_nothing_is_rolled_back() -> None:
    crashing = replica("m-new", H1, ready=False, waiting={"reason": "CrashLoopBackOff"})
    plan = decide(deployment(), [revision(SPEC, 1, 3)], [crashing], now=100.0)
    assert plan.status is not None and "rollback" not in plan.status


def test_the_last_two_available_revisions_are_remembered() -> None:
    done = {"conditions": [], "lastAvailable": H1}
    revisions = [revision(SPEC, 1, 0), revision(V2, 2, 3)]
    plan = decide(deployment(V2, done), revisions, running(H2, 3), now=100.0)
    plan = decide(deployment(V2, plan.status), revisions, running(H2, 3), now=101.0)
    assert plan.status is not None
    assert (plan.status["lastAvailable"], plan.status["previousAvailable"]) == (H2, H1)


@pytest.mark.parametrize(
    ("min_ready", "ready_since", "expected"),
    [
        (0, 99.0, None),  # available at once: nothing to wait for
        (5, 98.0, 3.01),  # available just after 103: look again then
        (5, 90.0, None),  # already available
    ],
)
def test_requeue_after_a_ready_replica_passes_min_ready_seconds(
    min_ready: int, ready_since: float, expected: float | None
) -> None:
    spec = {**SPEC, "replicas": 1, "minReadySeconds": min_ready, "strategy": {"progressDeadlineSeconds": 600}}
    status = {"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
    replicas = [replica("a", hash_of(spec), since=ready_since)]
    plan = decide(deployment(spec, status), [revision(spec, 1, 1)], replicas, now=100.0)
    assert plan.requeue_after == (pytest.approx(expected) if expected is not None else None)


def test_requeue_after_the_progress_deadline_while_a_rollout_is_in_progress() -> None:
    spec = {**SPEC, "replicas": 1, "strategy": {"progressDeadlineSeconds": 60}}
    plan = decide(
        deployment(spec),
        [revision(spec, 1, 1)],
        [replica("a", hash_of(spec), ready=False)],
        now=100.0,
    )
    assert plan.requeue_after == pytest.approx(61.0)


def test_a_quota_refusal_is_a_replica_failure_before_the_rollback_condition() -> None:
    plan = DeploymentPlan(status={"conditions": [{"type": "Available"}, {"type": "Degraded"}]})
    status = plan.status_with("quota exceeded")
    assert status is not None
    assert [c["type"] for c in status["conditions"]] == ["Available", "ReplicaFailure", "Degraded"]
    assert plan.status_with(None) == plan.status


def test_the_same_inputs_give_the_same_plan() -> None:
    args = (deployment(V2, {"lastAvailable": H1}), [revision(SPEC, 1, 3)], running(H1, 3))
    assert decide(*args, now=100.0) == decide(*args, now=100.0)


AUTOSCALED: dict[str, Any] = {
    **SPEC,
    "replicas": 7,  # ignored under autoscaling
    "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "concurrency", "target": 4}]},
}


@pytest.mark.parametrize(
    ("status", "desired"),
    [
        ({}, 2),  # no recommendation yet: minReplicas
        ({"autoscaling": {"desiredReplicas": 4}}, 4),  # the autoscaler's scale status
        ({"autoscaling": {"desiredReplicas": 9}}, 5),  # clamped to maxReplicas
    ],
)
def test_an_autoscaled_deployment_runs_what_the_owner_decides_and_keeps_the_autoscalers_status(
    status: dict[str, Any], desired: int
) -> None:
    plan = decide(deployment(AUTOSCALED, status), [], [], now=100.0)
    assert plan.create_revision is not None and plan.create_revision.spec["replicas"] == desired
    assert sum(c.count for c in plan.create_replicas) == desired
    assert plan.status is not None and plan.status["desiredReplicas"] == desired
    assert plan.status.get("autoscaling") == status.get("autoscaling")  # carried over, not rewritten
