"""The deployment controller's plan: how many replicas to create, which to delete, the status."""

from __future__ import annotations

from typing import Any

from modelplane.controllers.deployments import ReplicaView, plan, template_revision

SPEC: dict[str, Any] = {"model": {"format": "simulated", "version": "v1"}, "replicas": 3}
REV = template_revision(SPEC)


def replica(
    name: str,
    *,
    revision: str = REV,
    ready: bool = True,
    phase: str = "Running",
    created: float = 0.0,
    **kw: Any,
) -> ReplicaView:
    return ReplicaView(
        name=name,
        revision=revision,
        phase=phase,
        ready=ready,
        scheduled=kw.get("scheduled", True),
        created=created,
        deleting=kw.get("deleting", False),
    )


def test_a_new_deployment_gets_its_replicas() -> None:
    decided = plan(SPEC, [], deleting=False, generation=1)
    assert decided.create == 3 and decided.delete == ()
    assert decided.status["replicas"] == 0 and decided.status["unavailableReplicas"] == 3


def test_steady_state_changes_nothing() -> None:
    decided = plan(SPEC, [replica("a"), replica("b"), replica("c")], deleting=False, generation=1)
    assert decided.create == 0 and decided.delete == ()
    assert decided.status["readyReplicas"] == 3
    assert decided.status["conditions"][0] == {
        "type": "Available",
        "status": "True",
        "reason": "MinimumReplicasAvailable",
    }


def test_scale_down_deletes_unscheduled_then_pending_then_not_ready_then_newest() -> None:
    replicas = [
        replica("ready-old", created=1),
        replica("ready-new", created=5),
        replica("not-ready", ready=False, created=2),
        replica("pending", phase="Pending", ready=False, created=3),
        replica("unscheduled", phase="Pending", ready=False, scheduled=False, created=0),
    ]
    assert plan({**SPEC, "replicas": 4}, replicas, deleting=False, generation=2).delete == ("unscheduled",)
    assert plan({**SPEC, "replicas": 2}, replicas, deleting=False, generation=2).delete == (
        "unscheduled",
        "pending",
        "not-ready",
    )
    assert plan({**SPEC, "replicas": 1}, replicas, deleting=False, generation=2).delete[-1] == "ready-new"


def test_a_new_revision_is_created_beside_the_old_and_replaces_it_once_ready() -> None:
    changed = {**SPEC, "model": {"format": "simulated", "version": "v2"}}
    old = [replica("a"), replica("b"), replica("c")]
    first = plan(changed, old, deleting=False, generation=2)
    assert first.create == 3 and first.delete == ()  # old ones keep serving
    new_rev = template_revision(changed)
    starting = [replica(n, revision=new_rev, ready=False, phase="Starting") for n in "xyz"]
    assert plan(changed, old + starting, deleting=False, generation=2).delete == ()
    ready = [replica(n, revision=new_rev) for n in "xyz"]
    assert set(plan(changed, old + ready, deleting=False, generation=2).delete) == {"a", "b", "c"}


def test_replicas_already_deleting_do_not_count() -> None:
    replicas = [replica("a"), replica("b", deleting=True)]
    decided = plan({**SPEC, "replicas": 2}, replicas, deleting=False, generation=1)
    assert decided.create == 1 and decided.status["replicas"] == 1


def test_a_deleted_deployment_deletes_every_replica() -> None:
    decided = plan(SPEC, [replica("a"), replica("b", revision="old")], deleting=True, generation=1)
    assert decided.create == 0 and set(decided.delete) == {"a", "b"}


def test_autoscaling_starts_at_min_replicas() -> None:
    spec = {**SPEC, "autoscaling": {"minReplicas": 2, "maxReplicas": 5}}
    assert plan(spec, [], deleting=False, generation=1).create == 2


def test_revision_ignores_replicas_and_traffic() -> None:
    assert template_revision({**SPEC, "replicas": 9, "traffic": []}) == REV
    assert template_revision({**SPEC, "resources": {"limits": {"cpu": "1"}}}) != REV
