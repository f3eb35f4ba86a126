"""Rolling updates end to end (issue 4): under 32 clients no request fails, the replica count stays
within maxSurge / maxUnavailable at every observation, history shows the revisions, undo works."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tests.api.conftest import ControlPlane, Load
from tests.api.test_controlplane import ACCEL_BODY
from tests.conftest import wait_for

SPEC = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {{format: simulated, version: {version}, params: {{latencyMs: 5}}}}
  batching: {{maxBatchSize: 32, maxLatencyMs: 1}}
  replicas: 4
  probes: {{readiness: {{periodSeconds: 1}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 1}}}}
"""


class Observer(threading.Thread):
    """Polls the replicas every 0.1 s and keeps (live, available) counts of every observation."""

    def __init__(self, plane: ControlPlane) -> None:
        super().__init__(daemon=True)
        self.plane = plane
        self.seen: list[tuple[int, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            replicas = [r for r in self.plane.replicas("accel") if not r["metadata"].get("deletionTimestamp")]
            live = [r for r in replicas if r["status"].get("phase") not in ("Terminating", "Terminated")]
            self.seen.append((len(live), sum(bool(r["status"].get("ready")) for r in live)))


def versions(plane: ControlPlane) -> set[Any]:
    return {
        r["spec"]["version"] for r in plane.replicas("accel") if not r["metadata"].get("deletionTimestamp")
    }


def test_a_rolling_update_under_load_fails_no_request_and_respects_the_bounds(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(SPEC.format(version="v1"), tmp_path)
    control_plane.wait_ready("accel", 4)
    observer = Observer(control_plane)
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=32) as load:
        load.wait_for_more(200)
        observer.start()
        control_plane.apply(SPEC.format(version="v2"), tmp_path)
        done = control_plane.cli("rollout", "status", "accel", "--timeout", "120")
        assert done.returncode == 0, done.stdout + done.stderr
        assert 'deployment "accel" successfully rolled out' in done.stdout
        load.wait_for_more(200)
        observer.stop.set()
        observer.join(5)
    assert load.failures == [], load.failures[:5]
    assert versions(control_plane) == {"v2"}
    assert observer.seen, "no observation"
    assert max(live for live, _ in observer.seen) <= 4 + 1, observer.seen
    assert min(ready for _, ready in observer.seen) >= 4 - 1 - 1, observer.seen  # one more may be draining
    history = control_plane.cli("rollout", "history", "accel")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert any(line.split()[:2] == ["1", "v1"] for line in lines), history.stdout
    assert any(line.split()[:2] == ["2", "v2"] for line in lines), history.stdout
    undo = control_plane.cli("rollout", "undo", "accel")
    assert undo.returncode == 0 and "rolled back to revision 1" in undo.stdout, undo.stdout + undo.stderr
    assert control_plane.cli("rollout", "status", "accel", "--timeout", "120").returncode == 0
    assert versions(control_plane) == {"v1"}
    renumbered = control_plane.cli("rollout", "history", "accel").stdout
    assert any(line.split()[:2] == ["3", "v1"] for line in renumbered.splitlines()), renumbered


BROKEN = """
class Broken:
    def load(self):
        raise RuntimeError("weights are corrupt")

    def predict(self, inputs):
        return inputs
"""

FADING = """
import time
import numpy as np


class Fading:
    def load(self):
        self.loaded = time.monotonic()

    def healthy(self):
        return time.monotonic() - self.loaded < 4

    def predict(self, inputs):
        return {"output0": np.asarray(inputs["input0"], dtype=np.float64).sum(axis=1)}
"""

GOOD_THEN = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {model}
  replicas: 2
  probes: {{readiness: {{periodSeconds: 1}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
"""


def _rolled_back(plane: ControlPlane) -> dict[str, Any]:
    return dict(plane.deployment("accel")["status"].get("rollback") or {})


def test_a_version_that_fails_to_load_is_rolled_back_by_itself(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    control_plane.apply(
        GOOD_THEN.format(model="{format: simulated, version: v1, params: {latencyMs: 5}}"), tmp_path
    )
    control_plane.wait_ready("accel", 2)
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=8) as load:
        load.wait_for_more(100)
        control_plane.apply(
            GOOD_THEN.format(model="{uri: ./broken.py:Broken, format: python, version: v2}"), tmp_path
        )
        wait_for(lambda: bool(_rolled_back(control_plane)), timeout=90, what="the automatic rollback")
        wait_for(lambda: versions(control_plane) == {"v1"}, timeout=60, what="only v1 replicas")
        load.wait_for_more(100)
    assert load.failures == [], load.failures[:5]
    cause = _rolled_back(control_plane)["cause"]
    assert "crash-looping" in cause and "weights are corrupt" in cause, cause
    described = control_plane.cli("describe", "md", "accel").stdout
    assert "Degraded" in described and "RolledBack" in described
    assert "RolledBack" in control_plane.cli("events").stdout


def test_a_version_that_loses_readiness_after_taking_traffic_is_rolled_back(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "fading.py").write_text(FADING)
    control_plane.apply(
        GOOD_THEN.format(model="{format: simulated, version: v1, params: {latencyMs: 5}}"), tmp_path
    )
    control_plane.wait_ready("accel", 2)
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=8) as load:
        load.wait_for_more(100)
        control_plane.apply(
            GOOD_THEN.format(model="{uri: ./fading.py:Fading, format: python, version: v2}"), tmp_path
        )
        wait_for(lambda: bool(_rolled_back(control_plane)), timeout=90, what="the automatic rollback")
        wait_for(lambda: versions(control_plane) == {"v1"}, timeout=60, what="only v1 replicas")
        load.wait_for_more(100)
    assert load.failures == [], load.failures[:5]
    assert "failed its readiness probe after taking traffic" in _rolled_back(control_plane)["cause"]
    # the failed revision is not retried until the spec changes
    assert versions(control_plane) == {"v1"}


def test_a_paused_deployment_rolls_out_nothing_until_resumed(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    one = SPEC.replace("replicas: 4", "replicas: 1")
    control_plane.apply(one.format(version="v1"), tmp_path)
    control_plane.wait_ready("accel", 1)
    paused = control_plane.cli("rollout", "pause", "accel")
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    # apply sets the whole spec (no three-way merge): the file keeps the deployment paused
    control_plane.apply(one.format(version="v2") + "  paused: true\n", tmp_path)

    def observed() -> bool:
        deployment = control_plane.deployment("accel")
        status = deployment["status"]
        reasons = {c.get("reason") for c in status.get("conditions", [])}
        return (
            status.get("observedGeneration") == deployment["metadata"]["generation"]
            and "DeploymentPaused" in reasons
        )

    wait_for(observed, timeout=30, what="the controller to see the paused change")
    assert versions(control_plane) == {"v1"}
    assert control_plane.cli("rollout", "resume", "accel").returncode == 0
    assert control_plane.cli("rollout", "status", "accel", "--timeout", "120").returncode == 0
    assert versions(control_plane) == {"v2"}
