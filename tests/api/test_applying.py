"""apply's three-way merge (kubectl apply): what the file declares wins, what it stopped declaring goes
back to its default, what neither the file nor its last apply declares keeps its live value. The merge
is tested pure (no control plane, no store), then once end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelplane.api.applying import Refused, merge, prepare, undefaulted
from modelplane.spec import Loaded, load_text
from modelplane.store import StoredObject
from tests.api.conftest import ControlPlane
from tests.conftest import wait_for

MODEL = {"format": "simulated", "version": "v1"}


@pytest.mark.parametrize(
    ("case", "live", "last_applied", "applied", "merged"),
    [
        (
            "scale: replicas set by `scale` stay when the file never declared them",
            {"model": MODEL, "replicas": 3},
            {"model": MODEL},
            {"model": MODEL},
            {"model": MODEL, "replicas": 3},
        ),
        (
            "pause: paused set by `rollout pause` stays while the file changes the version",
            {"model": MODEL, "paused": True},
            {"model": MODEL},
            {"model": {**MODEL, "version": "v2"}},
            {"model": {**MODEL, "version": "v2"}, "paused": True},
        ),
        (
            "a field removed from the file is removed (validation defaults it again)",
            {"model": MODEL, "concurrency": 8},
            {"model": MODEL, "concurrency": 8},
            {"model": MODEL},
            {"model": MODEL},
        ),
        (
            "the file's value wins over a value someone else set",
            {"model": MODEL, "replicas": 5},
            {"model": MODEL, "replicas": 2},
            {"model": MODEL, "replicas": 2},
            {"model": MODEL, "replicas": 2},
        ),
        (
            "nested mappings merge: limits.memory changes, requests kept",
            {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi", "cpu": "1"}}},
            {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}},
            {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "4Gi"}}},
            {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "4Gi", "cpu": "1"}}},
        ),
        (
            "a nested field removed from the file is removed, its siblings kept",
            {"batching": {"maxBatchSize": 8, "maxLatencyMs": 2}},
            {"batching": {"maxBatchSize": 8, "maxLatencyMs": 2}},
            {"batching": {"maxBatchSize": 8}},
            {"batching": {"maxBatchSize": 8}},
        ),
        (
            "a list is replaced whole, not merged item by item",
            {"traffic": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}]},
            {"traffic": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}]},
            {"traffic": [{"version": "v2", "weight": 100}]},
            {"traffic": [{"version": "v2", "weight": 100}]},
        ),
        (
            "null in the file removes the field",
            {"model": MODEL, "replicas": 3},
            {"model": MODEL},
            {"model": MODEL, "replicas": None},
            {"model": MODEL},
        ),
        (
            "a mapping in the file over a scalar (or nothing) live is taken as the file wrote it",
            {"batching": None},
            {},
            {"batching": {"maxBatchSize": 4, "maxLatencyMs": None}},
            {"batching": {"maxBatchSize": 4}},
        ),
    ],
)
def test_merge(
    case: str, live: dict[str, Any], last_applied: dict[str, Any], applied: dict[str, Any], merged: Any
) -> None:
    assert merge(live, last_applied, applied) == merged, case


def test_undefaulted_keeps_what_was_declared_or_changed_and_drops_the_rest() -> None:
    live = {"model": MODEL, "replicas": 3, "paused": False, "concurrency": None, "probes": {"grace": 5}}
    last_applied = {"model": MODEL, "paused": False}
    defaulted = {"model": MODEL, "replicas": 1, "paused": False, "concurrency": None, "probes": {"grace": 3}}
    assert undefaulted(live, last_applied, defaulted) == {
        "model": MODEL,  # declared
        "replicas": 3,  # changed since (scale)
        "paused": False,  # declared, though it is the default
        "probes": {"grace": 5},  # changed inside a mapping
    }


DEPLOYMENT = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: simulated, version: v1}
"""


def loaded(spec: str, *, kind: str = "ModelDeployment", base: str = DEPLOYMENT) -> Loaded:
    text = base.replace("kind: ModelDeployment", f"kind: {kind}") + "".join(f"  {line}\n" for line in spec)
    result = load_text(text, file="iris.yaml")
    assert not result.errors, result.errors
    return result.objects[0]


def stored(first: Loaded, *, changed: dict[str, Any] | None = None) -> StoredObject:
    """The object as a first apply of `first` stored it, then `changed` by another writer."""
    applied = prepare(first, None, base_dir=None)
    return StoredObject(
        kind=applied.kind, namespace=applied.namespace, name=applied.name, uid="u", generation=1,
        resource_version=1, labels={}, spec={**applied.spec, **(changed or {})}, status={},
        created=0.0, updated=0.0, deletion_timestamp=None, last_applied=applied.last_applied,
    )  # fmt: skip


def test_a_first_apply_stores_the_defaults_and_keeps_only_the_declared_fields() -> None:
    applied = prepare(loaded(["min_ready_seconds: 2"]), None, base_dir=None)
    assert applied.last_applied == {"model": {"format": "simulated", "version": "v1"}, "minReadySeconds": 2}
    assert applied.spec["replicas"] == 1 and applied.spec["minReadySeconds"] == 2
    assert applied.spec["strategy"]["type"] == "RollingUpdate"


def test_reapplying_keeps_scale_and_pause_and_resets_removed_fields() -> None:
    first = loaded(["concurrency: 4"])
    live = stored(first, changed={"replicas": 3, "paused": True})
    again = prepare(loaded([]), live, base_dir=None)
    assert again.spec["replicas"] == 3 and again.spec["paused"] is True
    assert again.spec["concurrency"] is None
    assert again.last_applied == {"model": {"format": "simulated", "version": "v1"}}


def test_an_unchanged_file_gives_back_the_live_spec() -> None:
    first = loaded(["resources: {limits: {memory: 1Gi}}", "strategy: {type: Recreate}"])
    live = stored(first, changed={"replicas": 2})
    assert prepare(first, live, base_dir=None).spec == live.spec


def test_defaults_derived_from_other_fields_follow_the_new_file() -> None:
    # requests default to limits: changing the limit in the file moves the defaulted request with it
    live = stored(loaded(["resources: {limits: {memory: 1Gi, cpu: 500m}}"]))
    assert live.spec["resources"]["requests"]["memory"] == "1Gi"
    again = prepare(loaded(["resources: {limits: {memory: 512Mi, cpu: 500m}}"]), live, base_dir=None)
    assert again.spec["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi", "gpu": None}
    # a RollingUpdate deployment switched to Recreate keeps no defaulted rollingUpdate
    switched = prepare(loaded(["strategy: {type: Recreate}"]), stored(loaded([])), base_dir=None)
    assert switched.spec["strategy"]["type"] == "Recreate"
    assert "rollingUpdate" not in switched.spec["strategy"]


def test_an_object_without_a_last_applied_spec_is_replaced_by_the_file() -> None:
    live = stored(loaded(["concurrency: 4"]), changed={"replicas": 3})
    before_last_applied = StoredObject(**{**live.__dict__, "last_applied": None})
    again = prepare(loaded([]), before_last_applied, base_dir=None)
    assert again.spec["replicas"] == 1 and again.spec["concurrency"] is None


def test_a_merged_spec_that_is_invalid_is_refused_naming_the_field() -> None:
    # someone set minAvailable by a PUT; the file now asks for maxUnavailable: the merge has both
    budget = {"disruptionBudget": {"minAvailable": 1, "maxUnavailable": None}}
    live = stored(loaded([]), changed=budget)
    with pytest.raises(Refused) as refused:
        prepare(loaded(["disruptionBudget: {maxUnavailable: 1}"]), live, base_dir=None)
    [line] = refused.value.lines
    assert line.startswith("iris.yaml:1: ModelDeployment/iris: spec.disruptionBudget: set exactly one"), line
    assert "merged with the live spec" in line and "to null to reset it" in line


def test_relative_model_uris_are_absolute_in_the_spec_and_the_last_applied(tmp_path: Path) -> None:
    base = DEPLOYMENT.replace("{format: simulated, version: v1}", "{format: onnx, uri: models/iris.onnx}")
    applied = prepare(loaded([], base=base), None, base_dir=tmp_path)
    uri = str(tmp_path / "models" / "iris.onnx")
    assert applied.spec["model"]["uri"] == uri and applied.last_applied["model"]["uri"] == uri


JOB = """\
apiVersion: modelplane.dev/v1alpha1
kind: Job
metadata: {name: train}
spec:
  command: [python, train.py]
"""


def test_reapplying_an_unchanged_job_passes_its_immutability_check(tmp_path: Path) -> None:
    job = load_text(JOB + "  parallelism: 2\n", file="job.yaml").objects[0]
    first = prepare(job, None, base_dir=tmp_path)
    assert first.spec["workingDir"] == str(tmp_path) and "workingDir" not in first.last_applied
    live = StoredObject(
        kind="Job", namespace="default", name="train", uid="u", generation=1, resource_version=1,
        labels={}, spec=first.spec, status={}, created=0.0, updated=0.0, deletion_timestamp=None,
        last_applied=first.last_applied,
    )  # fmt: skip
    assert prepare(job, live, base_dir=tmp_path).spec == first.spec
    changed = load_text(JOB.replace("train.py", "other.py"), file="job.yaml").objects[0]
    with pytest.raises(Refused, match=r"spec.command: field is immutable"):
        prepare(changed, live, base_dir=tmp_path)


# end to end, through a real control plane

ACCEL = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {{format: simulated, version: {version}, params: {{latencyMs: 1}}}}
  probes: {{readiness: {{periodSeconds: 1}}}}
"""


def test_apply_keeps_scale_and_pause_and_resets_removed_fields(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    path = tmp_path / "accel.yaml"

    def apply(version: str, extra: str = "") -> str:
        path.write_text(ACCEL.format(version=version) + extra)
        done = control_plane.cli("apply", "-f", str(path))
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    assert apply("v1", "  concurrency: 4\n") == "modeldeployment.modelplane.dev/accel created"
    control_plane.wait_ready("accel", 1)
    assert control_plane.cli("scale", "accel", "--replicas", "2").returncode == 0
    assert apply("v1", "  concurrency: 4\n") == "modeldeployment.modelplane.dev/accel unchanged"
    assert control_plane.deployment("accel")["spec"]["replicas"] == 2

    assert control_plane.cli("rollout", "pause", "accel").returncode == 0
    assert apply("v2", "  concurrency: 4\n") == "modeldeployment.modelplane.dev/accel configured"
    deployment = control_plane.deployment("accel")
    assert deployment["spec"]["paused"] is True and deployment["spec"]["model"]["version"] == "v2"
    last_applied = json.loads(deployment["metadata"]["annotations"]["modelplane.dev/last-applied"])
    assert last_applied["model"]["version"] == "v2" and "paused" not in last_applied

    def paused_seen() -> bool:
        deployment = control_plane.deployment("accel")
        status = deployment["status"]
        reasons = {c.get("reason") for c in status.get("conditions", [])}
        return status.get("observedGeneration") == deployment["metadata"]["generation"] and (
            "DeploymentPaused" in reasons
        )

    wait_for(paused_seen, timeout=30, what="the controller to see the paused deployment's new template")
    assert {r["spec"]["version"] for r in control_plane.replicas("accel")} == {"v1"}
    assert control_plane.deployment("accel")["status"].get("updatedReplicas", 0) == 0

    assert apply("v2") == "modeldeployment.modelplane.dev/accel configured"  # concurrency removed
    spec = control_plane.deployment("accel")["spec"]
    assert (spec["concurrency"], spec["replicas"], spec["paused"]) == (None, 2, True)
