"""A replica killed with SIGKILL under load fails no request: the router retries on the other one."""

from __future__ import annotations

import http.client
import json
import os
import signal
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

pytestmark = pytest.mark.slow


def test_kill_9_of_one_of_two_replicas_under_32_clients_fails_no_request(
    tmp_path: Path, start_router: Callable[..., tuple[RouterProcess, EndpointsFile]]
) -> None:
    spec = simulated_spec(tmp_path, "sim", latency_ms=5)
    a, b = start_replica(spec), start_replica(spec)
    try:
        # the table still lists the dead replica as ready: no control plane here to say otherwise
        router, _ = start_router(deployment("sim", [endpoint("a", a), endpoint("b", b)]))
        ok: list[int] = []
        failures: list[Any] = []
        stop = threading.Event()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30)
            while not stop.is_set():
                try:
                    conn.request(
                        "POST",
                        "/v2/models/sim/infer",
                        body=BODY,
                        headers={"content-type": "application/json"},
                    )
                    response = conn.getresponse()
                    payload = json.loads(response.read())
                    if response.status == 200 and payload["outputs"][0]["data"] == [3.0]:
                        ok.append(1)
                    else:
                        failures.append((response.status, payload))
                except (OSError, http.client.HTTPException) as error:
                    failures.append(error)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=30)
            conn.close()

        clients = [threading.Thread(target=client) for _ in range(32)]
        for c in clients:
            c.start()
        try:
            wait_for(lambda: len(ok) >= 300, timeout=60, what="300 answers before the kill")
            os.kill(a.proc.pid, signal.SIGKILL)
            killed_at = len(ok)
            wait_for(lambda: len(ok) >= killed_at + 600, timeout=60, what="600 answers after the kill")
        finally:
            stop.set()
            for c in clients:
                c.join(30)
        assert a.proc.wait(10) == -signal.SIGKILL
        assert failures == []
        retries = sum(
            v for k, v in router.metrics().items() if k.startswith("modelplane_router_retries_total")
        )
        assert retries >= 1  # the requests caught on the dead replica were sent again
    finally:
        stop_process(a.proc)
        stop_process(b.proc)
