"""Autoscaling end to end: a real control plane, router and simulated replicas. Load through the router
raises the deployment's count through the request-metrics pipeline and the autoscaler loop, with the
decision as an event that names its inputs, and no request fails on the way."""

from __future__ import annotations

import time
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
        table = plane.cli("get", "hpa").stdout.splitlines()
        assert table[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
        row = table[1].split()
        assert row[:3] == ["sim", "ModelDeployment/sim", "concurrency:"] and row[3].endswith("/1")
        assert row[4:7] == ["1", "4", "4"]
    assert load.failures == []
    scale = plane.deployment("sim")["status"]["autoscaling"]
    conditions = {c["type"]: c for c in scale["conditions"]}
    assert conditions["ScalingActive"]["status"] == "True"
    assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
    events = plane.cli("describe", "md", "sim").stdout
    assert "SuccessfulRescale" in events and "concurrency" in events and "vs target 1" in events


FROM_ZERO = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: idle}
spec:
  model: {format: simulated, params: {latencyMs: 10}}
  resources: {requests: {cpu: 50m, memory: 64Mi}}
  autoscaling:
    minReplicas: 0
    maxReplicas: 2
    metrics: [{type: concurrency, target: 5}]
"""


@pytest.mark.slow
def test_a_request_to_a_deployment_at_zero_is_held_and_wakes_it(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(FROM_ZERO, tmp_path)
    wait_for(
        lambda: "desiredReplicas" in plane.deployment("idle")["status"].get("autoscaling", {}),
        timeout=30,
        what="the autoscaler deciding on the idle deployment",
    )
    assert plane.replicas("idle") == []  # minReplicas 0 and no request: nothing runs
    started = time.monotonic()
    status, answer = plane.infer("idle", BODY)  # held by the router until a replica is ready
    cold_start = time.monotonic() - started
    assert status == 200, answer
    print(f"cold start (request -> answer, simulated model): {cold_start:.2f} s")
    assert plane.deployment("idle")["status"]["autoscaling"]["desiredReplicas"] == 1


BURNS_CPU = """
import time

class BurnsCpu:
    def load(self):
        pass

    def predict(self, inputs):
        end = time.process_time() + 0.02  # 20 ms of CPU per request
        while time.process_time() < end:
            pass
        return inputs
"""
BY_CPU = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: burner}
spec:
  model: {uri: ./burns_cpu.py:BurnsCpu, format: python}
  resources: {requests: {cpu: 100m, memory: 128Mi}}
  autoscaling:
    minReplicas: 1
    maxReplicas: 3
    metrics: [{type: cpu, targetUtilization: 50}]
"""


@pytest.mark.slow
def test_a_model_that_burns_cpu_scales_on_cpu_utilization(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    (tmp_path / "burns_cpu.py").write_text(BURNS_CPU)
    plane.apply(BY_CPU, tmp_path)
    plane.wait_ready("burner", 1)
    with Load(plane.ingress, "/v2/models/burner/infer", BODY, clients=2) as load:
        # a replica busy most of the time uses several times its 100m request: HPA asks for the max
        wait_for(
            lambda: plane.deployment("burner")["status"].get("autoscaling", {}).get("desiredReplicas") == 3,
            timeout=90,
            what="the autoscaler asking for 3 replicas on cpu",
        )
        load.wait_for_more(10)
    assert load.failures == []
    described = plane.cli("describe", "md", "burner").stdout
    assert "SuccessfulRescale" in described and "% of request vs target 50%" in described


BY_SERIES = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: series}
spec:
  model: {format: simulated, params: {latencyMs: 200}}
  resources: {requests: {cpu: 50m, memory: 64Mi}}
  autoscaling:
    minReplicas: 1
    maxReplicas: 3
    metrics: [{type: custom, series: modelplane_server_inflight_requests, target: 1}]
"""


@pytest.mark.slow
def test_a_custom_prometheus_series_of_the_replicas_scales_the_deployment(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    plane.apply(BY_SERIES, tmp_path)
    plane.wait_ready("series", 1)
    with Load(plane.ingress, "/v2/models/series/infer", BODY, clients=4) as load:
        # ~4 requests in flight at one replica's own gauge against a target of 1: the max, 3
        wait_for(
            lambda: plane.deployment("series")["status"].get("autoscaling", {}).get("desiredReplicas") == 3,
            timeout=60,
            what="the autoscaler asking for 3 replicas on the custom series",
        )
        load.wait_for_more(10)
    assert load.failures == []
    assert "modelplane_server_inflight_requests" in plane.cli("get", "hpa").stdout
