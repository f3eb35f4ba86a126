"""The router process: SIGTERM drains (in-flight requests finish, exit 0); bad flags are refused."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.router.conftest import (
    BODY,
    EndpointsFile,
    RouterProcess,
    deployment,
    endpoint,
    simulated_spec,
    start_replica,
    stop_process,
)


@pytest.mark.slow
def test_sigterm_finishes_in_flight_requests_then_exits_0(
    tmp_path: Path, start_router: Callable[..., tuple[RouterProcess, EndpointsFile]]
) -> None:
    slow = start_replica(simulated_spec(tmp_path, "slow", latency_ms=800))
    try:
        router, _ = start_router(deployment("slow", [endpoint("s", slow)]))
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(router.infer("/v2/models/slow/infer")[0]))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        key = 'modelplane_router_inflight_requests{deployment="slow",namespace="default",version="v1"}'
        wait_for(lambda: router.metrics().get(key) == 3, timeout=10, what="3 requests in flight")
        router.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        assert results == [200, 200, 200]
        assert router.proc.wait(30) == 0
        assert "shutting down: draining" in router.log
    finally:
        stop_process(slow.proc)


def test_exactly_one_endpoints_source_is_required() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "modelplane.cli.routing", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "give exactly one of --api URL or --endpoints-file FILE" in done.stderr


def send(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_requests_from_web_pages_and_bodies_not_declared_json_are_refused(
    tmp_path: Path, start_router: Callable[..., tuple[RouterProcess, EndpointsFile]]
) -> None:
    replica = start_replica(simulated_spec(tmp_path, "sim"))
    try:
        router, _ = start_router(deployment("sim", [endpoint("s", replica)]))
        path = "/v2/models/sim/infer"
        status, answer = send(router.port, "POST", path, BODY, {"Origin": "https://evil.example"})
        assert status == 403 and "requests from web pages are refused" in answer["error"], answer
        status, answer = send(
            router.port, "GET", "/router/endpoints", None, {"Origin": "https://evil.example"}
        )
        assert status == 403, answer
        for content_type in ("text/plain", "multipart/form-data; boundary=x"):
            status, answer = send(router.port, "POST", path, BODY, {"Content-Type": content_type})
            assert status == 415 and "not JSON" in answer["error"], answer
        assert router.infer(path)[0] == 200
        assert send(router.port, "POST", path, BODY, {})[0] == 200  # no content type: JSON
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends
        assert send(router.port, "POST", path, BODY, form)[0] == 200
    finally:
        stop_process(replica.proc)
