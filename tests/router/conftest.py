"""Helpers of the router tests: a real router process in file mode, and the endpoints file it follows."""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ListeningProcess, ServerProcess, exchange, stop_process, wait_for

BODY = json.dumps(
    {"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
).encode()


def simulated_spec(
    tmp: Path, name: str, *, version: str = "v1", latency_ms: float = 5, namespace: str = "default"
) -> Path:
    path = tmp / f"{namespace}-{name}-{version}-{latency_ms}.yaml"
    path.write_text(
        "apiVersion: modelplane.dev/v1alpha1\n"
        "kind: ModelDeployment\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        "spec:\n"
        f"  model: {{format: simulated, version: {version}, params: {{latencyMs: {latency_ms}}}}}\n"
        "  batching: {maxBatchSize: 32, maxLatencyMs: 1}\n"
    )
    return path


def start_replica(spec: Path) -> ServerProcess:
    server = ServerProcess(spec, "--log-level", "warning")
    server.wait_ready()
    return server


def endpoint(
    replica: str, server: ServerProcess, *, version: str = "v1", ready: bool = True, terminating: bool = False
) -> dict[str, Any]:
    return {
        "replica": replica,
        "version": version,
        "address": f"127.0.0.1:{server.port}",
        "ready": ready,
        "terminating": terminating,
    }


def deployment(
    name: str,
    endpoints: list[dict[str, Any]],
    *,
    namespace: str = "default",
    traffic: dict[str, int] | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    versions = traffic or {v: 100 for v in dict.fromkeys(e["version"] for e in endpoints)}
    return {
        "namespace": namespace,
        "name": name,
        "concurrency": concurrency,
        "traffic": [{"version": v, "weight": w} for v, w in versions.items()],
        "endpoints": endpoints,
    }


class EndpointsFile:
    """The JSON table a file-mode router follows; every write is atomic and bumps resourceVersion."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.resource_version = 0

    def write(self, *deployments: dict[str, Any]) -> int:
        self.resource_version += 1
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"resourceVersion": self.resource_version, "deployments": list(deployments)})
        )
        os.replace(tmp, self.path)
        return self.resource_version


class RouterProcess(ListeningProcess):
    """A real router process in file mode, following the table in `endpoints`."""

    def __init__(self, endpoints: Path, *args: str) -> None:
        routing = [sys.executable, "-m", "modelplane.cli.routing", "--endpoints-file", str(endpoints)]
        super().__init__([*routing, "--port", "0", *args], what="router")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        conn: http.client.HTTPConnection | None = None,
    ) -> tuple[int, Any, http.client.HTTPResponse]:
        own = conn is None
        conn = conn or self.connection()
        try:
            return exchange(conn, method, path, body)
        finally:
            if own:
                conn.close()

    def infer(self, path: str = "/v2/models/sim/infer") -> tuple[int, Any]:
        status, payload, _ = self.request("POST", path, BODY)
        return status, payload

    def resource_version(self) -> int:
        status, payload, _ = self.request("GET", "/router/endpoints")
        return int(payload["resourceVersion"]) if status == 200 else -1

    def wait_table(self, resource_version: int, timeout: float = 5) -> float:
        """Seconds until the router serves table `resource_version`."""
        started = time.monotonic()
        wait_for(
            lambda: self.resource_version() >= resource_version,
            timeout=timeout,
            what=f"table {resource_version}",
        )
        return time.monotonic() - started

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.request("GET", "/metrics")[1])


def parse_metrics(text: str) -> dict[str, float]:
    """`name{labels}` -> value, labels as Prometheus prints them (sorted by the client)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def served_requests(server: ServerProcess) -> float:
    """Inference requests a replica has answered (its own counter)."""
    text = server.request("GET", "/metrics")[1]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelplane_server_requests_total{")
    )


def send_request(port: int, path: str) -> socket.socket:
    """A client that sends one POST of BODY to `path` and does not read the answer yet."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (path.encode(), len(BODY), BODY)
    )
    return sock


def leave(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0): the one way a client leaves; a plain close() sends a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def post_many(port: int, path: str, n: int, *, threads: int = 8) -> list[tuple[int, Any]]:
    """`n` POSTs of BODY over `threads` keep-alive connections; (status, payload) of each."""
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()
    counts = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def run(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for _ in range(count):
                conn.request("POST", path, body=BODY, headers={"content-type": "application/json"})
                response = conn.getresponse()
                item = (response.status, json.loads(response.read()))
                with lock:
                    results.append(item)
        finally:
            conn.close()

    workers = [threading.Thread(target=run, args=(c,)) for c in counts]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    return results


@pytest.fixture
def start_router(tmp_path: Path) -> Iterator[Callable[..., tuple[RouterProcess, EndpointsFile]]]:
    started: list[RouterProcess] = []

    def start(
        *deployments: dict[str, Any], args: tuple[str, ...] = ()
    ) -> tuple[RouterProcess, EndpointsFile]:
        table = EndpointsFile(tmp_path / f"endpoints-{len(started)}.json")
        version = table.write(*deployments)
        router = RouterProcess(table.path, *args)
        started.append(router)
        router.wait_table(version, timeout=30)
        return router, table

    yield start
    for router in started:
        stop_process(router.proc)
