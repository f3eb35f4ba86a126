"""Jobs end to end (batch/v1 semantics) with a real control plane and real processes: completions and
parallelism, backoffLimit with its back-off, restartPolicy OnFailure, activeDeadlineSeconds,
ttlSecondsAfterFinished, a GPU Job that waits for its GPU, and `get`/`describe`/`logs`/`wait`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ControlPlane, running_control_plane
from tests.conftest import wait_for

HEADER = "apiVersion: modelplane.dev/v1alpha1\nkind: Job\n"


def job_yaml(name: str, body: str) -> str:
    return HEADER + f"metadata: {{name: {name}}}\nspec:\n" + textwrap.indent(textwrap.dedent(body), "  ")


def job(plane: ControlPlane, name: str) -> dict[str, Any]:
    status, body = plane.request("GET", f"/api/v1/jobs/default/{name}")
    assert status == 200, body
    return dict(body)


def job_replicas(plane: ControlPlane, name: str) -> list[dict[str, Any]]:
    return [r for r in plane.replicas() if r["spec"].get("job") == name]


def test_a_job_runs_its_completions_with_parallelism_and_shows_in_get_describe_logs(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    script = tmp_path / "work.py"
    script.write_text(
        "import os, time\n"
        "print('working in', os.getcwd(), 'as', os.environ['MODELPLANE_REPLICA'], os.environ['STAGE'])\n"
        "time.sleep(1.5)\n"
    )
    plane.apply(
        job_yaml(
            "batch",
            """\
            command: [python, work.py]
            env: {STAGE: embed-corpus}
            completions: 3
            parallelism: 2
            resources: {requests: {cpu: 100m, memory: 64Mi}}
            """,
        ),
        tmp_path,
    )
    most_running = 0

    def complete() -> bool:
        nonlocal most_running
        running = [
            r for r in job_replicas(plane, "batch") if r["status"].get("phase") in ("Starting", "Running")
        ]
        most_running = max(most_running, len(running))
        return "Complete" in plane.cli("get", "jobs").stdout

    wait_for(complete, timeout=60, what="job batch Complete", interval=0.1)
    assert most_running == 2  # parallelism 2, never more
    status = job(plane, "batch")["status"]
    assert (status["succeeded"], status["failed"], status["active"]) == (3, 0, 0)
    replicas = job_replicas(plane, "batch")
    assert len(replicas) == 3 and all(r["status"]["phase"] == "Succeeded" for r in replicas)
    listed = plane.cli("get", "jobs").stdout
    assert "batch" in listed and "3/3" in listed
    logs = plane.cli("logs", "job/batch")
    assert logs.returncode == 0, logs.stderr
    assert f"working in {tmp_path}" in logs.stdout and "embed-corpus" in logs.stdout
    described = plane.cli("describe", "job", "batch").stdout
    assert "0 Active (0 Ready) / 3 Succeeded / 0 Failed" in described
    assert "CompletionsReached" in described and "SuccessfulCreate" in described
    waited = plane.cli("wait", "job/batch", "--for", "condition=Complete", "--timeout", "5s")
    assert waited.returncode == 0 and "condition met" in waited.stdout
    # the spec of a Job that exists is immutable, but parallelism may change
    changed = job_yaml("batch", "command: [python, other.py]\ncompletions: 3\nparallelism: 2\n")
    (tmp_path / "changed.yaml").write_text(changed)
    refused = plane.cli("apply", "-f", str(tmp_path / "changed.yaml"))
    assert refused.returncode != 0
    assert "Job/batch: spec.command, spec.env, spec.resources: field is immutable" in refused.stderr
    stored = job(plane, "batch")  # PUT is held to the same rule
    put = {**stored, "spec": {**stored["spec"], "command": ["python", "other.py"]}}
    status, body = plane.request("PUT", "/api/v1/jobs/default/batch", json.dumps(put).encode())
    assert status == 422 and "spec.command: field is immutable" in body["error"], body
    put = {**stored, "spec": {**stored["spec"], "parallelism": 3}}
    status, body = plane.request("PUT", "/api/v1/jobs/default/batch", json.dumps(put).encode())
    assert status == 200 and body["spec"]["parallelism"] == 3, body


def test_a_failing_job_retries_after_a_backoff_then_fails_naming_the_cause(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(
        job_yaml("broken", 'command: [sh, -c, "echo cannot read the corpus >&2; exit 3"]\nbackoffLimit: 1\n'),
        tmp_path,
    )
    waited = plane.cli("wait", "job/broken", "--for", "condition=Complete", "--timeout", "60s", timeout=90)
    assert waited.returncode == 1
    assert "BackoffLimitExceeded" in waited.stderr
    replicas = sorted(job_replicas(plane, "broken"), key=lambda r: r["status"]["lastExit"]["at"])
    assert [r["status"]["phase"] for r in replicas] == ["Failed", "Failed"]  # backoffLimit 1: 2 tries
    first_exit, second_start = replicas[0]["status"]["lastExit"]["at"], replicas[1]["status"]["startedAt"]
    assert second_start - first_exit >= 9.5  # the 10 s back-off of the first failure
    assert all(r["status"]["lastExit"]["code"] == 3 for r in replicas)
    status = job(plane, "broken")["status"]
    assert (status["failed"], status["succeeded"]) == (2, 0)
    events = plane.cli("events").stdout
    assert "BackoffLimitExceeded" in events
    assert "exit code 3" in events and "cannot read the corpus" in events
    assert "Failed" in plane.cli("get", "jobs").stdout


def test_on_failure_restarts_in_place_and_the_job_completes(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(
        job_yaml(
            "flaky",
            """\
            command: [sh, -c, "if [ -f tried ]; then echo second try; else touch tried; exit 1; fi"]
            restartPolicy: OnFailure
            """,
        ),
        tmp_path,
    )
    waited = plane.cli("wait", "job/flaky", "--for", "condition=Complete", "--timeout", "60s", timeout=90)
    assert waited.returncode == 0, waited.stderr
    (replica,) = job_replicas(plane, "flaky")
    assert replica["status"]["phase"] == "Succeeded" and replica["status"]["restarts"] == 1
    assert job(plane, "flaky")["status"]["failed"] == 0
    assert "second try" in plane.cli("logs", "job/flaky").stdout


def test_active_deadline_stops_the_job_and_ttl_deletes_it(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(
        job_yaml("slow", "command: [sleep, '300']\nactiveDeadlineSeconds: 2\nttlSecondsAfterFinished: 10\n"),
        tmp_path,
    )
    wait_for(
        lambda: any(r["status"].get("pid") for r in job_replicas(plane, "slow")), timeout=30, what="running"
    )
    pid = next(r["status"]["pid"] for r in job_replicas(plane, "slow") if r["status"].get("pid"))
    # (a TTL of 10 s: on a loaded machine two CLI calls once took longer than a TTL of 3 s)
    wait_for(
        lambda: "DeadlineExceeded" in plane.cli("describe", "job", "slow").stdout,
        timeout=30,
        what="job slow failed with DeadlineExceeded",
    )
    described = plane.cli("describe", "job", "slow").stdout
    assert "Job was active longer than specified deadline" in described
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, what="the sleeping process stopped")
    gone = plane.cli("wait", "job/slow", "--for", "delete", "--timeout", "30s", timeout=60)
    assert gone.returncode == 0, gone.stderr  # ttlSecondsAfterFinished: the Job and its replicas go
    wait_for(lambda: not job_replicas(plane, "slow"), timeout=30, what="the job's replicas removed")


GPU_SPECS = """
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: gpu}
spec:
  capacity: {cpu: "1", memory: 4Gi, gpu: 1}
  taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: llm}
spec:
  model: {format: simulated}
  resources: {limits: {gpu: 1}}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  probes: {readiness: {periodSeconds: 1}}
"""


@pytest.mark.slow
def test_a_training_job_waits_for_a_gpu_then_gets_it(tmp_path: Path) -> None:
    inventory = json.dumps([{"index": 0, "name": "NVIDIA H100 (injected)", "memory": "80Gi"}])
    with running_control_plane(tmp_path, {"MODELPLANE_GPUS": inventory}) as plane:
        plane.apply(textwrap.dedent(GPU_SPECS), tmp_path)
        plane.wait_ready("llm", 1)
        train = job_yaml(
            "train",
            """\
            command: [sh, -c, 'echo "devices=$CUDA_VISIBLE_DEVICES"']
            resources: {limits: {gpu: 1}}
            tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
            """,
        )
        (tmp_path / "train.yaml").write_text(train)
        assert plane.cli("apply", "-f", str(tmp_path / "train.yaml")).returncode == 0

        def pending_for_gpu() -> bool:
            replicas = job_replicas(plane, "train")
            return bool(replicas) and "Insufficient gpu" in replicas[0]["status"].get("message", "")

        wait_for(pending_for_gpu, timeout=30, what="the job's replica Pending for a GPU")
        # The Job itself counts a Pending replica as active, as Kubernetes does (kubectl shows Running);
        # what the user sees waiting is the replica.
        assert job_replicas(plane, "train")[0]["status"]["phase"] == "Pending"
        assert plane.cli("delete", "md", "llm").returncode == 0  # the GPU is freed
        waited = plane.cli("wait", "job/train", "--for", "condition=Complete", "--timeout", "60s", timeout=90)
        assert waited.returncode == 0, waited.stderr
        assert "devices=0" in plane.cli("logs", "job/train").stdout
        (replica,) = job_replicas(plane, "train")
        assert replica["spec"]["pool"] == "gpu" and replica["spec"]["gpus"] == [0]
