"""Request metrics end to end: a real control plane and router, simulated replicas; requests through
the router show up in `GET /api/v1/modeldeployments/NS/NAME/metrics`, `/metrics` and `modelplane top`.
In process: a bad report is refused with 400 naming the field, a good one is served back."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelplane.api.errors import BadRequest, NotFound
from modelplane.api.request_metrics import MetricsApi
from modelplane.api.routes import Hub
from modelplane.metrics import MetricsStore
from modelplane.net.http import Request
from modelplane.store import Store
from tests.api.conftest import ControlPlane
from tests.conftest import wait_for

BODY = orjson.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sim}
spec:
  model: {format: simulated, params: {latencyMs: 50}}
  replicas: 2
  resources: {requests: {cpu: 100m, memory: 128Mi}}
  probes: {readiness: {periodSeconds: 1}}
"""


def _api(tmp_path: Path, clock: list[float]) -> MetricsApi:
    return MetricsApi(
        Store(tmp_path / "state"),
        hub=Hub(),
        state_dir=tmp_path / "state",
        token=None,
        on_down=lambda: None,
        readings=dict,
        metrics=MetricsStore(),
        clock=lambda: clock[0],
    )


def _call(api: MetricsApi, method: str, path: str, query: str = "", body: bytes = b"") -> Any:
    answer = api(Request(method, path, query, body, None, {b"host": b"127.0.0.1"}))
    return orjson.loads(answer.body)  # type: ignore[union-attr]


def test_reports_in_windows_out_and_bad_reports_refused(tmp_path: Path) -> None:
    clock = [1000.2]
    api = _api(tmp_path, clock)
    latency = [0] * 15
    latency[5] = 10  # (10 ms, 25 ms]
    version = {"namespace": "default", "deployment": "m", "version": "v1", "requests": 10, "errors": 1}
    report = {"intervalS": 1.0, "versions": [{**version, "latency": latency, "inflight": 2.0}]}
    for _ in range(5):
        assert _call(api, "POST", "/api/v1/metrics/router", body=orjson.dumps(report)) == {"accepted": True}
        clock[0] += 1
    clock[0] = 1004.9  # within the last report's second (the current second counts, as in Knative)
    answer = _call(api, "GET", "/api/v1/modeldeployments/default/m/metrics", "window=60s")
    (v1,) = answer["versions"]
    assert (v1["requestsPerSecond"], v1["inflight"], v1["errorRate"]) == (10.0, 2.0, 0.1)
    assert 10 < v1["p50Ms"] < v1["p99Ms"] <= 25
    assert [s["requests"] for s in v1["seconds"]] == [10] * 5
    clock[0] = 1006.5
    listed = _call(api, "GET", "/api/v1/metrics", "namespace=default&window=5")
    assert listed["items"][0]["total"]["requests"] == 30  # seconds 1002..1006: 3 reports, 2 s without
    with pytest.raises(
        BadRequest, match=r"versions\.0\.requests: Input should be greater than or equal to 0"
    ):
        _call(
            api,
            "POST",
            "/api/v1/metrics/router",
            body=orjson.dumps({"intervalS": 1, "versions": [{**version, "requests": -1}]}),
        )
    with pytest.raises(BadRequest, match="window='2h'"):
        _call(api, "GET", "/api/v1/metrics", "window=2h")
    with pytest.raises(BadRequest, match="it must be 1 s to 300 s"):
        _call(api, "GET", "/api/v1/metrics", "window=301")
    with pytest.raises(NotFound, match="modeldeployment 'x' not found in namespace 'default'"):
        _call(api, "GET", "/api/v1/modeldeployments/default/x/metrics")
    text = api(Request("GET", "/metrics", "", b"", None, {b"host": b"127.0.0.1"})).body.decode()  # type: ignore[union-attr]
    assert (
        'modelplane_deployment_requests_total{deployment="m",namespace="default",version="v1"} 50.0' in text
    )


@pytest.mark.slow
def test_requests_through_the_router_show_in_the_metrics_and_in_top(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    control_plane.apply(DEPLOYMENT, tmp_path)
    control_plane.wait_ready("sim", 2)
    stop = threading.Event()
    failures: list[int] = []

    def load() -> None:
        while not stop.is_set():
            status, _ = control_plane.infer("sim", BODY)
            if status != 200:
                failures.append(status)

    clients = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        seen: dict[str, Any] = {}

        def measured() -> bool:
            status, answer = control_plane.request(
                "GET", "/api/v1/modeldeployments/default/sim/metrics?window=5s"
            )
            assert status == 200, answer
            total = answer["total"]
            seen.update(total)
            # 4 closed-loop clients on 50 ms replicas: ~4 in flight, ~80 req/s (less on a busy machine)
            return total["requestsPerSecond"] > 10 and total["inflight"] > 1 and len(answer["replicas"]) == 2

        wait_for(measured, timeout=30, what="request metrics of sim", interval=0.5)
        assert seen["p99Ms"] is not None and seen["p99Ms"] >= 50
        top = control_plane.cli("top")
        assert top.returncode == 0, top.stdout + top.stderr
        lines = top.stdout.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("DEPLOYMENT"))
        assert lines[header].split() == ["DEPLOYMENT", "READY", "INFLIGHT", "REQ/S", "P99", "ERRORS"]
        row = lines[header + 1].split()
        assert row[:2] == ["sim", "2/2"] and float(row[3]) > 10 and row[4].endswith("ms")
        with urllib.request.urlopen(control_plane.api + "/metrics", timeout=10) as response:
            text = response.read().decode()
        assert 'modelplane_replica_inflight_requests{deployment="sim",namespace="default"' in text
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
    assert failures == []
