"""The local control plane end to end: real API, router, replicas and HTTP (issue 3's "Done when")."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import CLI, ControlPlane, Load
from tests.conftest import ListeningProcess, wait_for

ACCEL = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {{format: simulated, params: {{latencyMs: 5}}}}
  batching: {{maxBatchSize: 32, maxLatencyMs: 1}}
  replicas: {replicas}
  probes: {{readiness: {{periodSeconds: 1}}}}
"""
ACCEL_BODY = json.dumps(
    {"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
).encode()


def test_apply_serves_through_the_router_and_delete_drains(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(ACCEL.format(replicas=2), tmp_path)
    control_plane.wait_ready("accel", 2)
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=4) as load:
        load.wait_for_more(50)
    assert load.failures == []
    wait_for(
        lambda: control_plane.deployment("accel")["status"].get("readyReplicas") == 2,
        timeout=10,
        what="the deployment's status to count 2 ready replicas",
    )
    assert control_plane.deployment("accel")["status"]["replicas"] == 2
    pids = [r["status"]["pid"] for r in control_plane.replicas("accel")]
    deleted = control_plane.cli("delete", "md", "accel")
    assert deleted.returncode == 0, deleted.stderr
    wait_for(lambda: control_plane.replicas("accel") == [], timeout=60, what="the replicas to be gone")
    wait_for(lambda: all(not _alive(p) for p in pids), timeout=30, what="the replica processes to exit")
    wait_for(
        lambda: control_plane.request("GET", "/api/v1/modeldeployments/default/accel")[0] == 404,
        timeout=10,
        what="the deployment object to be removed once its replicas are gone",
    )


def test_kill_9_of_a_replica_under_load_fails_no_request(control_plane: ControlPlane, tmp_path: Path) -> None:
    control_plane.apply(ACCEL.format(replicas=2), tmp_path)
    control_plane.wait_ready("accel", 2)
    victim = control_plane.replicas("accel")[0]
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=32) as load:
        load.wait_for_more(200)
        os.kill(victim["status"]["pid"], signal.SIGKILL)

        def restarted() -> bool:
            now = [
                r
                for r in control_plane.replicas("accel")
                if r["metadata"]["name"] == victim["metadata"]["name"]
            ]
            return bool(now) and now[0]["status"]["restarts"] == 1 and now[0]["status"]["ready"]

        wait_for(restarted, timeout=60, what="the killed replica to be restarted and ready")
        load.wait_for_more(200)
    assert load.failures == [], load.failures[:5]


def test_kill_9_of_the_control_plane_fails_nothing_and_restarts_nothing(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(ACCEL.format(replicas=2), tmp_path)
    control_plane.wait_ready("accel", 2)
    before = {
        r["metadata"]["name"]: (r["status"]["pid"], r["status"]["restarts"]) for r in control_plane.replicas()
    }
    spec_before = control_plane.deployment("accel")["spec"]
    port = control_plane.api.rsplit(":", 1)[1]
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=32) as load:
        load.wait_for_more(200)
        os.kill(control_plane.controlplane_pid, signal.SIGKILL)
        load.wait_for_more(200)  # the router keeps serving from its last table
        # `up` again: the router still runs, so only the control plane starts, on the same port
        again = control_plane.cli_plain("up", "--detach", "--state-dir", str(control_plane.state))
        assert again.returncode == 0 and "control plane restarted" in again.stdout, again.stderr
        assert control_plane.api.endswith(f":{port}")
        wait_for(lambda: _answers(control_plane), timeout=60, what="the restarted control plane")
        load.wait_for_more(200)
    assert load.failures == [], load.failures[:5]
    after = {
        r["metadata"]["name"]: (r["status"]["pid"], r["status"]["restarts"]) for r in control_plane.replicas()
    }
    assert after == before
    assert control_plane.deployment("accel")["spec"] == spec_before


def test_a_model_that_fails_to_load_crash_loops_with_backoff(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text(
        "class Broken:\n    def load(self):\n        raise RuntimeError('weights are corrupt')\n"
        "    def predict(self, inputs):\n        return inputs\n"
    )
    control_plane.apply(
        textwrap.dedent(
            """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: broken}
            spec:
              model: {uri: ./broken.py:Broken, format: python}
            """
        ),
        tmp_path,
    )

    def waits() -> list[float]:
        replicas = control_plane.replicas("broken")
        if not replicas:
            return []
        status = replicas[0]["status"]
        waiting, last = status.get("waiting") or {}, status.get("lastExit") or {}
        if waiting.get("reason") != "CrashLoopBackOff" or waiting.get("until") is None:
            return []
        return [round(waiting["until"] - last["at"])]

    seen: list[float] = []

    def backoff_reached(delay: float) -> bool:
        for wait in waits():
            if wait not in seen:
                seen.append(wait)
        return delay in seen

    wait_for(lambda: backoff_reached(10), timeout=60, what="a 10 s CrashLoopBackOff")
    wait_for(lambda: backoff_reached(20), timeout=60, what="a 20 s CrashLoopBackOff")
    replica = control_plane.replicas("broken")[0]
    assert replica["status"]["lastExit"]["reason"] == "Error" and replica["status"]["lastExit"]["code"] == 1
    assert replica["status"]["restarts"] >= 2
    described = control_plane.cli("describe", "replica", replica["metadata"]["name"]).stdout
    assert "CrashLoopBackOff" in described
    logs = control_plane.cli("logs", "broken").stdout
    assert "weights are corrupt" in logs


@pytest.mark.skipif(
    not (os.access("/sys/fs/cgroup/memory", os.W_OK) or os.path.exists("/sys/fs/cgroup/cgroup.controllers")),
    reason="no writable memory cgroup on this machine: limits are not enforced here",
)
def test_a_replica_over_its_memory_limit_is_oom_killed_and_restarted(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "hog.py").write_text(
        "class Hog:\n    def load(self):\n        self.block = bytearray(400 * 1024 * 1024)\n"
        "        for i in range(0, len(self.block), 4096):\n            self.block[i] = 1\n"
        "    def predict(self, inputs):\n        return inputs\n"
    )
    control_plane.apply(
        textwrap.dedent(
            """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: hog}
            spec:
              model: {uri: ./hog.py:Hog, format: python}
              resources: {limits: {memory: 200Mi}}
            """
        ),
        tmp_path,
    )

    def oom_killed() -> dict[str, Any] | None:
        replicas = control_plane.replicas("hog")
        last = replicas[0]["status"].get("lastExit") if replicas else None
        return replicas[0] if last and last["reason"] == "OOMKilled" else None

    wait_for(lambda: oom_killed() is not None, timeout=60, what="an OOMKilled exit")
    replica = oom_killed()
    assert replica is not None
    assert replica["status"]["lastExit"]["code"] == 137
    assert replica["status"]["limitsEnforced"] is True
    wait_for(
        lambda: control_plane.replicas("hog")[0]["status"]["restarts"] >= 1,
        timeout=60,
        what="a restart in place",
    )


def test_a_gpu_deployment_on_a_machine_without_gpus_stays_pending_with_the_reason(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(
        textwrap.dedent(
            """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: llm}
            spec:
              model: {format: simulated}
              resources: {limits: {gpu: 1}}
            """
        ),
        tmp_path,
    )

    def pending_message() -> str:
        replicas = control_plane.replicas("llm")
        return replicas[0]["status"].get("message", "") if replicas else ""

    wait_for(lambda: "Insufficient gpu" in pending_message(), timeout=30, what="the FailedScheduling reason")
    replica = control_plane.replicas("llm")[0]
    assert replica["status"]["phase"] == "Pending" and replica["spec"]["pool"] is None
    assert pending_message() == "0/1 pools are available: 1 Insufficient gpu."
    events = control_plane.cli("events").stdout
    assert "FailedScheduling" in events
    described = control_plane.cli("describe", "replica", replica["metadata"]["name"]).stdout
    assert "Insufficient gpu" in described


def test_bad_input_gets_clear_errors(control_plane: ControlPlane, tmp_path: Path) -> None:
    status, body = control_plane.request("POST", "/api/v1/apply", b"kind: [unclosed")
    assert status == 422 and body["reason"] == "Invalid" and body["details"]
    status, body = control_plane.request(
        "POST", "/api/v1/apply", b"apiVersion: modelplane.dev/v1alpha1\nkind: Widget\n"
    )
    assert status == 422 and "unknown kind 'Widget'" in "\n".join(body["details"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: x}\nspec: {}\n"
    )
    applied = control_plane.cli("apply", "-f", str(bad))
    assert applied.returncode == 1 and "bad.yaml:4" in applied.stderr and "Traceback" not in applied.stderr
    # a stale update is refused with 409
    control_plane.apply(ACCEL.format(replicas=1), tmp_path)
    current = control_plane.deployment("accel")
    stale = json.loads(json.dumps(current))
    stale["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"] - 1
    stale["spec"]["replicas"] = 3
    status, body = control_plane.request(
        "PUT", "/api/v1/modeldeployments/default/accel", json.dumps(stale).encode()
    )
    assert status == 409 and body["reason"] == "Conflict", body
    assert "resourceVersion" in body["error"]
    assert control_plane.request("GET", "/api/v1/nothings")[0] == 404
    # a watch filtered by kind moves on past changes of other kinds (no busy loop)
    status, body = control_plane.request("GET", "/api/v1/watch?since=0&kinds=nodepools&timeout=1")
    assert (
        status == 200
        and body["changes"] == []
        and body["resourceVersion"] >= current["metadata"]["resourceVersion"]
    )
    assert control_plane.request("GET", "/api/v1/watch?timeout=soon")[0] == 400


def test_web_pages_and_foreign_hosts_are_refused_on_loopback(control_plane: ControlPlane) -> None:
    import urllib.error
    import urllib.request

    for headers in ({"Origin": "http://evil.example"}, {"Host": "evil.example:8090"}):
        request = urllib.request.Request(
            control_plane.api + "/api/v1/apply", data=b"kind: Namespace", method="POST", headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403


def test_long_deployment_names_give_distinct_valid_replica_names(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    name = "a" * 60
    control_plane.apply(ACCEL.format(replicas=2).replace("{name: accel}", "{name: " + name + "}"), tmp_path)
    wait_for(lambda: len(control_plane.replicas(name)) == 2, timeout=30, what="two replicas")
    names = [r["metadata"]["name"] for r in control_plane.replicas(name)]
    assert len(set(names)) == 2 and all(len(n) <= 63 and not n.endswith("-") for n in names)


@pytest.mark.slow
def test_off_loopback_every_request_needs_the_token(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "token").write_text("s3cret-token")
    os.chmod(state / "token", 0o600)
    plane = ListeningProcess(
        [*CLI, "controlplane", "--state-dir", str(state), "--host", "0.0.0.0", "--port", "0"],
        what="control plane",
    )
    port = plane.port
    try:
        import urllib.error
        import urllib.request

        url = f"http://127.0.0.1:{port}/api/v1/modeldeployments"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url, timeout=10)
        assert missing.value.code == 401
        assert "Bearer" in json.loads(missing.value.read())["error"]
        wrong = urllib.request.Request(url, headers={"Authorization": "Bearer nope"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong, timeout=10)
        assert refused.value.code == 403
        right = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret-token"})
        with urllib.request.urlopen(right, timeout=10) as response:
            assert response.status == 200
    finally:
        plane.stop(timeout=30)


def test_off_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "controlplane", "--state-dir", str(tmp_path / "state"), "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _answers(plane: ControlPlane) -> bool:
    try:
        return plane.request("GET", "/healthz")[0] == 200
    except OSError:
        return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def _gone(pid: int) -> bool:
    """No process, or only a zombie (exited, not yet reaped by a parent that is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _timed_down(state: Path) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [*CLI, "down", "--state-dir", str(state)], capture_output=True, text=True, timeout=180
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed


@pytest.mark.slow
def test_down_takes_one_drain_and_leaves_no_process_and_no_error(tmp_path: Path) -> None:
    env = {**os.environ, "MODELPLANE_GPUS": "[]"}
    state = tmp_path / "state"
    up = subprocess.run(
        [*CLI, "up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    urls = json.loads((state / "up.json").read_text())
    plane = ControlPlane(state=state, api=urls["api"], ingress=urls["ingress"], env=env)
    try:
        plane.apply(ACCEL.format(replicas=3), tmp_path)
        plane.wait_ready("accel", 3)
        pids = [r["status"]["pid"] for r in plane.replicas("accel")]
        pids += [urls["controlplane"]["pid"], urls["router"]["pid"]]
        # three replicas drained at once: about one drain (1 s for the router to learn, then
        # SIGTERM), not three in a row; the bound is generous for a loaded machine
        assert _timed_down(state) < 10
    finally:
        for pid in [r["status"].get("pid") for r in plane.replicas()] if (state / "up.json").exists() else []:
            with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
                os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: all(_gone(p) for p in pids), timeout=5, what="every process to be gone after down")
    log = (state / "controlplane.log").read_text()
    assert "Traceback" not in log and "ProgrammingError" not in log, log[-3000:]


@pytest.mark.slow
def test_down_with_up_in_the_foreground_reaps_the_router_and_takes_seconds(tmp_path: Path) -> None:
    env = {**os.environ, "MODELPLANE_GPUS": "[]"}
    state = tmp_path / "state"
    up = subprocess.Popen(
        [*CLI, "up", "--state-dir", str(state), "--port", "0", "--ingress-port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: (state / "up.json").exists(), timeout=60, what="`up` to record its processes")
        urls = json.loads((state / "up.json").read_text())
        # the router is `up`'s child: once stopped it must be reaped, not waited on as a zombie
        assert _timed_down(state) < 10
        assert up.wait(timeout=30) == 0
        for pid in (urls["controlplane"]["pid"], urls["router"]["pid"]):
            assert not Path(f"/proc/{pid}").exists(), f"pid {pid} left behind (zombie or running)"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
    assert "ProgrammingError" not in (state / "controlplane.log").read_text()
