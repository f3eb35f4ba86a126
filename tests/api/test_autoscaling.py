"""Autoscaling end to end: a real control plane, router and simulated replicas. Load through the router
raises the deployment's count through the request-metrics pipeline and the autoscaler loop, with the
decision as an event that names its inputs, and no request fails on the way."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.api.conftest import ControlPlane, Load
from tests.conftest import wait_for

BODY = orjson.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sim}
spec:
  model: {format: simulated, params: {latencyMs: 100}}
  resources: {requests: {cpu: 50m, memory: 64Mi}}
  concurrency: 2
  autoscaling:
    minReplicas: 1
    maxReplicas: 4
    metrics: [{type: concurrency, target: 1}]
"""


@pytest.mark.slow
def test_load_through_the_router_scales_up_on_concurrency(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(DEPLOYMENT, tmp_path)
    plane.wait_ready("sim", 1)
    with Load(plane.ingress, "/v2/models/sim/infer", BODY, clients=6) as load:
        # ~6 in flight against a target of 1 per replica: the most it may have, 4, within seconds
        wait_for(
            lambda: plane.deployment("sim")["status"].get("autoscaling", {}).get("desiredReplicas") == 4,
            timeout=60,
            what="the autoscaler asking for 4 replicas",
        )
        plane.wait_ready("sim", 4)
        load.wait_for_more(20)
    assert load.failures == []
    scale = plane.deployment("sim")["status"]["autoscaling"]
    conditions = {c["type"]: c for c in scale["conditions"]}
    assert conditions["ScalingActive"]["status"] == "True"
    assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
    events = plane.cli("describe", "md", "sim").stdout
    assert "SuccessfulRescale" in events and "concurrency" in events and "vs target 1" in events
