"""Drain a node pool (issue 4): under load with a budget no request fails; a drain the budget forbids
waits, says why, and goes on once the budget allows it (after a scale-up)."""

from __future__ import annotations

import subprocess
import textwrap
import threading
from pathlib import Path

from tests.api.conftest import CLI, ControlPlane, Load
from tests.api.test_controlplane import ACCEL_BODY
from tests.conftest import wait_for

POOLS = """
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: pool-a}
spec:
  capacity: {cpu: 500m, memory: 2Gi}
  labels: {tier: serve}
---
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: pool-b}
spec:
  capacity: {cpu: 500m, memory: 2Gi}
  labels: {tier: serve}
"""

DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: {name}}}
spec:
  model: {{format: simulated, params: {{latencyMs: 5}}}}
  replicas: {replicas}
  nodeSelector: {{tier: serve}}
  resources: {{requests: {{cpu: 200m, memory: 256Mi}}, limits: {{memory: 512Mi}}}}
  probes: {{readiness: {{periodSeconds: 1}}}}
{extra}
"""


def pools_of(plane: ControlPlane, name: str) -> list[str]:
    return sorted(
        r["spec"]["pool"] for r in plane.replicas(name) if not r["metadata"].get("deletionTimestamp")
    )


def assert_budget(plane: ControlPlane, name: str, *expected: str) -> None:
    """`describe` shows the budget the deployment controller computed (on its next pass after ready)."""

    def computed() -> bool:  # its status may lag the replicas: compare with the replicas themselves
        ready = sum(bool(r["status"].get("ready")) for r in plane.replicas(name))
        status = plane.deployment(name)["status"]
        return (status.get("disruptionBudget") or {}).get("currentHealthy") == ready

    wait_for(computed, timeout=10, what=f"the disruption budget status of {name}")
    described = plane.cli("describe", "md", name)
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert [line for line in expected if line not in lines] == [], described.stdout


def test_drain_under_load_with_the_default_budget_fails_no_request(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(
        textwrap.dedent(POOLS) + "---\n" + DEPLOYMENT.format(name="accel", replicas=2, extra=""), tmp_path
    )
    control_plane.wait_ready("accel", 2)
    assert pools_of(control_plane, "accel") == ["pool-a", "pool-b"]  # LeastAllocated spreads them
    assert_budget(
        control_plane,
        "accel",
        "Disruption budget:    maxUnavailable 1 (default for more than one replica)",
        "Allowed disruptions:  1 (2 healthy, 1 desired healthy, 2 expected)",
    )
    with Load(control_plane.ingress, "/v2/models/accel/infer", ACCEL_BODY, clients=8) as load:
        load.wait_for_more(100)
        drained = control_plane.cli("drain", "pool-a", "--timeout", "120", timeout=180)
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert "nodepool/pool-a drained" in drained.stdout
        control_plane.wait_ready("accel", 2)
        load.wait_for_more(100)
    assert load.failures == [], load.failures[:5]
    assert pools_of(control_plane, "accel") == ["pool-b", "pool-b"]
    pool = control_plane.request("GET", "/api/v1/nodepools/pool-a")[1]
    assert pool["spec"]["unschedulable"] is True
    assert control_plane.cli("uncordon", "pool-a").returncode == 0
    assert control_plane.request("GET", "/api/v1/nodepools/pool-a")[1]["spec"]["unschedulable"] is False


def test_a_drain_the_budget_forbids_waits_and_goes_on_after_a_scale_up(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    solo = DEPLOYMENT.format(name="solo", replicas=1, extra="  disruptionBudget: {minAvailable: 1}")
    control_plane.apply(textwrap.dedent(POOLS) + "---\n" + solo, tmp_path)
    control_plane.wait_ready("solo", 1)
    assert_budget(
        control_plane,
        "solo",
        "Disruption budget:    minAvailable 1 (spec)",
        "Allowed disruptions:  0 (1 healthy, 1 desired healthy, 1 expected)",
    )
    pool = pools_of(control_plane, "solo")[0]
    drain = subprocess.Popen(
        [*CLI, "drain", pool, "--timeout", "120", "--server", control_plane.api],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(drain.stdout or []), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("will retry" in line for line in lines), timeout=30, what="a refused eviction")
        refusal = next(line for line in lines if "will retry" in line)
        assert "would leave 0 available, minAvailable is 1" in refusal, refusal
        assert drain.poll() is None  # still waiting
        assert control_plane.cli("scale", "solo", "--replicas", "2").returncode == 0
        assert drain.wait(120) == 0, "".join(lines)
    finally:
        if drain.poll() is None:
            drain.kill()
    reader.join(5)
    assert any("drained" in line for line in lines)
    control_plane.wait_ready("solo", 2)
    other = "pool-b" if pool == "pool-a" else "pool-a"
    assert pools_of(control_plane, "solo") == [other, other]
