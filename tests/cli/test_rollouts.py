"""`rollout status`'s reading of a deployment (kubectl's DeploymentStatusViewer, plus our rollback)."""

from __future__ import annotations

from typing import Any

from modelplane.cli.rollouts import _progress, change_cause


def deployment(status: dict[str, Any], *, replicas: int = 2, generation: int = 3) -> dict[str, Any]:
    return {
        "metadata": {"name": "accel", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 3, **status},
    }


def test_complete_when_every_replica_is_updated_and_available() -> None:
    status = {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}
    assert _progress(deployment(status)) == ('deployment "accel" successfully rolled out', True, "")


def test_waits_for_old_replicas_and_for_the_new_spec_to_be_observed() -> None:
    message, done, failed = _progress(
        deployment({"updatedReplicas": 2, "replicas": 3, "availableReplicas": 2})
    )
    assert "1 old replicas are pending termination" in message and not done and not failed
    message, done, _ = _progress(deployment({}, generation=4))
    assert "spec update to be observed" in message and not done


def test_an_automatic_rollback_fails_the_status_with_its_cause() -> None:
    degraded = {
        "type": "Degraded",
        "status": "True",
        "reason": "RolledBack",
        "message": "revision 2 failed and was rolled back: replica accel-x is crash-looping",
    }
    # the old revision is complete again, but what the spec asks for did not roll out
    status = {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2, "conditions": [degraded]}
    message, done, failed = _progress(deployment(status))
    assert message == 'deployment "accel" was rolled back automatically' and not done
    assert failed.startswith("revision 2 failed and was rolled back")


def test_change_cause_names_what_changed_in_the_template() -> None:
    v1 = {"model": {"format": "sklearn", "version": "v1", "uri": "/m/sentiment/model.skops"}, "replicas": 2}
    v2 = {
        "model": {"format": "sklearn", "version": "v2", "uri": "/m/sentiment-v2/model.skops"},
        "replicas": 4,
    }
    assert change_cause(None, v1) == "created"
    assert change_cause(v1, v2) == "model.uri changed, model.version: v1→v2"  # replicas make no revision
    limits = {**v1, "resources": {"limits": {"memory": "1Gi"}}}
    assert change_cause(v1, limits) == "resources changed"
    assert change_cause(limits, {**v1, "resources": {"limits": {"memory": "2Gi"}}}) == (
        "resources.limits.memory: 1Gi→2Gi"
    )
