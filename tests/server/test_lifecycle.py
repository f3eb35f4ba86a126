"""Start-up and shutdown of the model server as a process: SIGTERM under load fails no request,
a model that fails to load ends the process with a message that says what to fix."""

from __future__ import annotations

import http.client
import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, wait_for

SLOW = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, params: {latencyMs: 100}}
  batching: {maxBatchSize: 4, maxLatencyMs: 1}
"""


def _inflight(server: ServerProcess) -> float:
    text = server.request("GET", "/metrics")[1]
    for line in text.splitlines():
        if line.startswith("modelplane_server_inflight_requests{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_sigterm_under_load_finishes_every_accepted_request(
    tmp_path: Path, start_server: Callable[..., ServerProcess]
) -> None:
    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW)
    server = start_server(spec)
    results: list[Any] = []
    body = json.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request(
                "POST", "/v2/models/accel/infer", body=body, headers={"content-type": "application/json"}
            )
            response = conn.getresponse()
            results.append((response.status, json.loads(response.read())))
        except OSError as error:
            results.append(error)
        finally:
            conn.close()

    # 24 one-row requests in batches of 4 at 100 ms each: the last finishes ~600 ms after the first.
    threads = [threading.Thread(target=client) for _ in range(24)]
    for thread in threads:
        thread.start()
    wait_for(lambda: _inflight(server) >= 24, timeout=30, what="24 requests in flight")
    assert server.stop(signal.SIGTERM) == 0
    for thread in threads:
        thread.join(30)
    assert len(results) == 24
    assert all(not isinstance(r, Exception) and r[0] == 200 for r in results), results
    assert all(r[1]["outputs"][0]["data"] == [3.0] for r in results)
    # once it has exited, nothing listens any more
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/v2/health/live")
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused


def test_a_model_that_fails_to_load_exits_1_naming_the_model_and_the_fix(
    tmp_path: Path, start_server: Callable[..., ServerProcess]
) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(
        """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment}
spec:
  model: {uri: ./models/missing.joblib, format: sklearn}
"""
    )
    server = start_server(spec, ready=False)
    assert server.proc.wait(60) == 1
    assert "sentiment" in server.log
    assert "missing.joblib" in server.log
    assert "spec.model.uri" in server.log
    assert "Traceback" not in server.log


def test_a_bad_spec_is_reported_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: Bad_Name}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "modelplane.cli.main", "serve", "-f", str(spec), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "bad.yaml:3" in done.stderr
    assert "Traceback" not in done.stderr
