"""Rollouts end to end (issue 4): a rolling update under 32 clients fails no request and the replica
count stays within maxSurge / maxUnavailable at every observation; history shows the revisions, undo
works; a paused deployment waits; Recreate starts nothing new while an old replica is still there.
Automatic rollbacks are in test_rollbacks.py."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
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
    """Polls the replicas every 0.1 s; keeps (live, available) counts and the (version, phase) of every
    replica, deleted ones too, at every observation."""

    def __init__(self, plane: ControlPlane) -> None:
        super().__init__(daemon=True)
        self.plane = plane
        self.seen: list[tuple[int, int]] = []
        self.snapshots: list[list[tuple[str, str]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            every = self.plane.replicas("accel")
            self.snapshots.append(
                [(r["spec"]["version"], r["status"].get("phase", "Pending")) for r in every]
            )
            replicas = [r for r in every if not r["metadata"].get("deletionTimestamp")]
            live = [r for r in replicas if r["status"].get("phase") not in ("Terminating", "Terminated")]
            self.seen.append((len(live), sum(bool(r["status"].get("ready")) for r in live)))


def versions(plane: ControlPlane) -> set[Any]:
    return {
        r["spec"]["version"] for r in plane.replicas("accel") if not r["metadata"].get("deletionTimestamp")
    }


@contextlib.contextmanager
def rolling_out_v2(
    plane: ControlPlane, tmp_path: Path, spec: str, *, replicas: int, clients: int, warm_up: int
) -> Iterator[tuple[Load, Observer]]:
    """v1 of `spec` ready, then v2 applied under `clients` while an Observer watches; the body runs once
    `rollout status` says v2 is rolled out, the load still on."""
    plane.apply(spec.format(version="v1"), tmp_path)
    plane.wait_ready("accel", replicas)
    observer = Observer(plane)
    with Load(plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=clients) as load:
        load.wait_for_more(warm_up)
        observer.start()
        plane.apply(spec.format(version="v2"), tmp_path)
        done = plane.cli("rollout", "status", "accel", "--timeout", "120")
        assert done.returncode == 0, done.stdout + done.stderr
        assert 'deployment "accel" successfully rolled out' in done.stdout
        try:
            yield load, observer
        finally:
            observer.stop.set()
            observer.join(5)


def history(plane: ControlPlane) -> list[tuple[str, str]]:
    """(number, version) of each revision `rollout history` lists."""
    done = plane.cli("rollout", "history", "accel")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]  # after the name and the header
    return [(row[0], row[1]) for row in rows]


def test_a_rolling_update_under_load_fails_no_request_and_respects_the_bounds(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    with rolling_out_v2(control_plane, tmp_path, SPEC, replicas=4, clients=32, warm_up=200) as rollout:
        load, observer = rollout
        load.wait_for_more(200)
    assert load.failures == [], load.failures[:5]
    assert versions(control_plane) == {"v2"}
    assert observer.seen, "no observation"
    assert max(live for live, _ in observer.seen) <= 4 + 1, observer.seen
    assert min(ready for _, ready in observer.seen) >= 4 - 1 - 1, observer.seen  # one more may be draining
    assert {("1", "v1"), ("2", "v2")} <= set(history(control_plane))
    undo = control_plane.cli("rollout", "undo", "accel")
    assert undo.returncode == 0 and "rolled back to revision 1" in undo.stdout, undo.stdout + undo.stderr
    assert control_plane.cli("rollout", "status", "accel", "--timeout", "120").returncode == 0
    assert versions(control_plane) == {"v1"}
    assert ("3", "v1") in history(control_plane)


def test_a_paused_deployment_rolls_out_nothing_until_resumed(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    one = SPEC.replace("replicas: 4", "replicas: 1")
    control_plane.apply(one.format(version="v1"), tmp_path)
    control_plane.wait_ready("accel", 1)
    paused = control_plane.cli("rollout", "pause", "accel")
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    # the file may say paused: true; one that does not keeps it paused too (tests/api/test_applying.py)
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


RECREATE = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {{format: simulated, version: {version}, params: {{latencyMs: 5}}}}
  replicas: 2
  probes: {{readiness: {{periodSeconds: 1}}}}
  strategy: {{type: Recreate}}
"""


def test_a_recreate_rollout_starts_the_new_version_only_once_every_old_replica_is_gone(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    with rolling_out_v2(control_plane, tmp_path, RECREATE, replicas=2, clients=8, warm_up=100) as rollout:
        load, observer = rollout
        control_plane.wait_ready("accel", 2)
        load.wait_for_more(100)
    # no replica runs for a few seconds, by design; the router holds requests meanwhile (--ready-wait,
    # 15 s), so normally none fails. On a loaded machine the gap can outlast the wait: then only the
    # router's clean 503 is allowed, never a reset or a 502 from a replica stopped mid-request
    assert all(f.startswith("503") and "no ready replicas" in f for f in load.failures), load.failures[:5]
    status, answer = control_plane.infer("accel", ACCEL_BODY)
    assert status == 200 and answer["model_version"] == "v2", answer
    assert any(v == "v2" for snapshot in observer.snapshots for v, _ in snapshot), "no v2 replica seen"
    for snapshot in observer.snapshots:
        if any(version == "v2" for version, _ in snapshot):
            old = [phase for version, phase in snapshot if version == "v1" and phase != "Terminated"]
            assert old == [], snapshot
    assert history(control_plane) == [("1", "v1"), ("2", "v2")]
