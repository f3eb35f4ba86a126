"""Automatic rollbacks end to end (issue 4): a new version that crash-loops, misses its progress deadline
or fails readiness after taking traffic is rolled back to the last available one by itself, under load,
with no failed request; `describe` and the events name the cause."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ControlPlane, Load
from tests.api.test_controlplane import ACCEL_BODY
from tests.api.test_rollouts import history, versions
from tests.conftest import wait_for

DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: accel}}
spec:
  model: {model}
  replicas: 2
  probes: {{readiness: {{periodSeconds: 1}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}{strategy}}}
"""
V1 = "{format: simulated, version: v1, params: {latencyMs: 5}}"

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
    \"\"\"Ready until `fade` s after it loaded (or until the epoch second `until`), then failing readiness;
    `grace` s later (time enough for the readiness probe and the router to notice) it is broken: a
    request that still reaches it fails.\"\"\"

    def __init__(self, grace, fade=None, until=None):
        self.fade, self.until, self.grace = fade, until, grace

    def load(self):
        self.fades_at = self.until if self.until is not None else time.time() + self.fade

    def healthy(self):
        return time.time() < self.fades_at

    def predict(self, inputs):
        if time.time() > self.fades_at + self.grace:
            raise RuntimeError("a replica that failed readiness was sent a request")
        return {"output0": np.asarray(inputs["input0"], dtype=np.float64).sum(axis=1)}
"""

NEVER_READY = """
class NeverReady:
    \"\"\"Loads, stays alive, never passes readiness (a warm-up that never ends).\"\"\"

    def healthy(self):
        return False

    def predict(self, inputs):
        raise RuntimeError("a replica that never became ready was sent a request")
"""


def deployment(model: str, *, strategy: str = "") -> str:
    """Deployment accel, 2 replicas of `model`; `strategy` adds strategy fields."""
    return DEPLOYMENT.format(model=model, strategy=strategy)


def fading(seconds: str) -> str:
    """The model of a v2 whose replicas fail readiness (`seconds`: "fade: 30" or "until: <epoch>")."""
    return "{uri: ./fading.py:Fading, format: python, version: v2, params: {grace: 10, " + seconds + "}}"


def _rollback(plane: ControlPlane) -> dict[str, Any]:
    return dict(plane.deployment("accel")["status"].get("rollback") or {})


def _roll_out_and_expect_a_rollback(
    plane: ControlPlane,
    tmp_path: Path,
    model: str,
    *,
    cause: tuple[str, ...],
    clients: int = 8,
    strategy: str = "",
) -> Load:
    """v1 on 2 replicas, then `model` as v2 under load: the automatic rollback to v1 comes, and the
    status, `describe` and the events give a cause that says each of `cause`. Returns the load, stopped."""
    plane.apply(deployment(V1, strategy=strategy), tmp_path)
    plane.wait_ready("accel", 2)
    with Load(plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=clients) as load:
        load.wait_for_more(100)
        plane.apply(deployment(model, strategy=strategy), tmp_path)
        wait_for(lambda: bool(_rollback(plane)), timeout=120, what="the automatic rollback")
        wait_for(lambda: versions(plane) == {"v1"}, timeout=60, what="only v1 replicas")
        plane.wait_ready("accel", 2)
        load.wait_for_more(100)
    given = str(_rollback(plane)["cause"])
    assert all(words in given for words in cause), given
    described = plane.cli("describe", "md", "accel").stdout
    assert "Degraded" in described and "RolledBack" in described, described
    assert all(words in described for words in cause), described
    events = plane.cli("events").stdout
    assert "RolledBack" in events and all(words in events for words in cause), events
    # the failed revision is not retried until the spec changes
    assert versions(plane) == {"v1"}
    return load


def test_a_version_that_fails_to_load_is_rolled_back_by_itself(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    model = "{uri: ./broken.py:Broken, format: python, version: v2}"
    cause = ("crash-looping", "weights are corrupt")
    load = _roll_out_and_expect_a_rollback(control_plane, tmp_path, model, cause=cause)
    assert load.failures == [], load.failures[:5]


def test_a_version_that_loses_readiness_during_its_rollout_is_rolled_back(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "fading.py").write_text(FADING)
    cause = ("failed its readiness probe after taking traffic",)
    load = _roll_out_and_expect_a_rollback(control_plane, tmp_path, fading("fade: 4"), cause=cause)
    assert load.failures == [], load.failures[:5]


@pytest.mark.slow
def test_a_version_that_fails_readiness_30_s_after_it_started_is_rolled_back_under_32_clients(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Issue 4's "Done when", literally: v2's replicas take traffic, then fail readiness 30 s after they
    started; no request fails, none reaches a broken replica. No minReadySeconds: v2 completes its
    rollout (v1 at 0 replicas) before it fails, and while the rollback brings v1 back the router
    holds the requests that find no ready replica (--ready-wait). ~50 s."""
    (tmp_path / "fading.py").write_text(FADING)
    cause = ("failed its readiness probe after taking traffic",)
    load = _roll_out_and_expect_a_rollback(
        control_plane, tmp_path, fading("fade: 30"), cause=cause, clients=32
    )
    assert load.failures == [], load.failures[:5]
    status = control_plane.deployment("accel")["status"]
    assert status["previousAvailable"] == status["rollback"]["from"], status  # v2 had completed
    assert ("3", "v1") in history(control_plane)


@pytest.mark.slow
def test_a_completed_rollout_whose_replicas_all_fail_readiness_is_rolled_back_with_no_failed_request(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Without minReadySeconds the rollout completes (v1 at 0 replicas) before v2 fails readiness, all
    its replicas at once, some 30 s after it was applied. Until a v1 replica of the rollback is ready
    nothing can serve: the router holds the requests meanwhile (--ready-wait, 15 s, as Knative's
    activator does), so none fails, and none reaches a broken replica. ~50 s."""
    (tmp_path / "fading.py").write_text(FADING)
    cause = ("failed its readiness probe after taking traffic",)
    until = f"until: {time.time() + 40:.0f}"  # v1 starts in the first ~10 s
    load = _roll_out_and_expect_a_rollback(control_plane, tmp_path, fading(until), cause=cause, clients=32)
    status = control_plane.deployment("accel")["status"]
    assert status["previousAvailable"] == status["rollback"]["from"], status  # v2 had completed
    assert load.failures == [], load.failures[:5]


def test_a_version_that_never_becomes_ready_is_rolled_back_at_its_progress_deadline(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    (tmp_path / "never.py").write_text(NEVER_READY)
    model = "{uri: ./never.py:NeverReady, format: python, version: v2}"
    deadline = ", progressDeadlineSeconds: 10"
    cause = ("ProgressDeadlineExceeded", "progressDeadlineSeconds (10 s)")
    load = _roll_out_and_expect_a_rollback(control_plane, tmp_path, model, cause=cause, strategy=deadline)
    assert load.failures == [], load.failures[:5]
    # without autoRollback the deployment stays as Kubernetes leaves it: Progressing=False, still on v1
    model = "{uri: ./never.py:NeverReady, format: python, version: v3}"
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=8) as load:
        control_plane.apply(deployment(model, strategy=deadline + ", autoRollback: false"), tmp_path)
        done = control_plane.cli("rollout", "status", "accel", "--timeout", "60")
        load.wait_for_more(100)
    assert load.failures == [], load.failures[:5]
    assert done.returncode == 1 and "exceeded its progress deadline" in done.stdout, done.stdout + done.stderr
    progressing = next(
        c for c in control_plane.deployment("accel")["status"]["conditions"] if c["type"] == "Progressing"
    )
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert "ProgressDeadlineExceeded" in control_plane.cli("describe", "md", "accel").stdout
    assert versions(control_plane) == {"v1", "v3"} and not _rollback(control_plane)
