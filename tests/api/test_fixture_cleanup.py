"""The control-plane fixture leaves no process behind when `modelplane down` fails or hangs: the
control plane, the router, a model replica and a Job's command (which names no state dir) are all
gone after the fixture's teardown."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.api.conftest import ControlPlane, running_control_plane
from tests.conftest import Proc, alive, processes_of, wait_for

SPECS = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, params: {latencyMs: 5}}
---
apiVersion: modelplane.dev/v1alpha1
kind: Job
metadata: {name: sleeper}
spec:
  command: [sleep, "300"]
"""


def start_everything(plane: ControlPlane, tmp_path: Path) -> set[Proc]:
    """Apply a deployment and a Job, wait until both replicas run; every process started so far."""
    plane.apply(SPECS, tmp_path)

    def both_running() -> bool:
        return sum(bool(r["status"].get("pid")) for r in plane.replicas()) == 2

    wait_for(both_running, timeout=60, what="the model replica and the Job's replica to run")
    started = processes_of(str(plane.state))
    replica_pids = {int(r["status"]["pid"]) for r in plane.replicas()}
    assert replica_pids <= {p.pid for p in started}
    assert len(started) >= 4  # control plane, router, two replicas (and their shells, if any)
    return started


def assert_all_gone(started: set[Proc]) -> None:
    wait_for(lambda: not any(alive(p) for p in started), timeout=10, what="every started process to end")


@pytest.mark.slow
def test_when_down_fails_the_fixture_kills_everything_it_started(tmp_path: Path) -> None:
    failing = pytest.raises(AssertionError, match="nothing is running")
    with failing, running_control_plane(tmp_path, {"MODELPLANE_GPUS": "[]"}) as plane:
        started = start_everything(plane, tmp_path)
        (plane.state / "up.json").unlink()  # `down` now finds nothing to stop and exits 1
    assert_all_gone(started)


@pytest.mark.slow
def test_when_down_hangs_the_fixture_kills_everything_it_started(tmp_path: Path) -> None:
    hanging = pytest.raises(AssertionError, match="modelplane down took over 3 s")
    with hanging, running_control_plane(tmp_path, {"MODELPLANE_GPUS": "[]"}, down_timeout=3) as plane:
        started = start_everything(plane, tmp_path)
        os.kill(plane.controlplane_pid, signal.SIGSTOP)  # it answers nothing: `down` waits
    assert_all_gone(started)
