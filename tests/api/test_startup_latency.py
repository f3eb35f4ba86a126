"""A new replica takes traffic soon after its model has loaded (issue 9 §2): readiness is probed every
50 ms until it first passes, not every `periodSeconds` (10 s by default) from the start."""

from __future__ import annotations

import json
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import ControlPlane
from tests.conftest import wait_for

LOADS_IN_1_S = """
import time
from pathlib import Path

class LoadsIn1s:
    def load(self):
        time.sleep(1.0)
        Path({marker!r}).write_text(repr(time.time()))

    def predict(self, inputs):
        return inputs
"""

DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: slowload}
spec:
  model: {uri: ./loads_in_1s.py:LoadsIn1s, format: python}
  replicas: 1
"""


def _routed_at(plane: ControlPlane) -> float | None:
    with urllib.request.urlopen(plane.ingress + "/router/endpoints", timeout=10) as response:
        table = json.loads(response.read())
    for deployment in table["deployments"]:
        if deployment["name"] == "slowload" and any(e["ready"] for e in deployment["endpoints"]):
            return time.time()
    return None


@pytest.mark.slow
def test_a_replica_whose_model_loads_in_1_s_is_ready_long_before_the_10_s_period(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    marker = tmp_path / "loaded_at"
    (tmp_path / "loads_in_1s.py").write_text(LOADS_IN_1_S.format(marker=str(marker)))
    control_plane.apply(textwrap.dedent(DEPLOYMENT), tmp_path)

    routed: list[float] = []

    def taking_traffic() -> bool:
        at = _routed_at(control_plane)
        if at is not None:
            routed.append(at)
        return bool(routed)

    wait_for(taking_traffic, timeout=60, what="the router to route to the slowload replica", interval=0.01)
    (replica,) = control_plane.replicas("slowload")
    status = replica["status"]
    assert status["ready"] and status["restarts"] == 0
    start_to_ready = status["readySince"] - status["startedAt"]
    loaded_at = float(marker.read_text())
    loaded_to_ready = status["readySince"] - loaded_at
    print(
        f"start->Ready {start_to_ready:.2f} s; model loaded->Ready {loaded_to_ready * 1000:.0f} ms; "
        f"loaded->routed {(routed[0] - loaded_at) * 1000:.0f} ms"
    )
    # Kubernetes' schedule would make it ~10 s: the first probe (at start) fails, the next is 10 s later
    assert start_to_ready < 4.0, f"ready {start_to_ready:.2f} s after its process started"
    assert loaded_to_ready < 0.5, f"ready {loaded_to_ready:.2f} s after its model loaded"
    assert status.get("readyAfterSeconds") == pytest.approx(start_to_ready, abs=0.01)
    # ... and the Ready event says it, for `describe`
    described = control_plane.cli("describe", "replica", replica["metadata"]["name"]).stdout
    assert f"ready {status['readyAfterSeconds']:.2f} s after its process started" in described
