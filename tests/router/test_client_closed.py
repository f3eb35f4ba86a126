"""A client that leaves before its answer: its request is never forwarded (queued) or is reset at the
replica (in flight), its slot goes to the next request, and it counts as 499. A half-close is not a
departure: that client still gets its answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ServerProcess, wait_for
from tests.router.conftest import (
    EndpointsFile,
    RouterProcess,
    deployment,
    endpoint,
    leave,
    send_request,
    served_requests,
    simulated_spec,
    start_replica,
    stop_process,
)

pytestmark = pytest.mark.slow

StartRouter = Callable[..., tuple[RouterProcess, EndpointsFile]]
LATENCY_S = 2.0


def sample(name: str, **labels: str) -> str:
    """A sample's key as Prometheus text writes it (labels sorted), of deployment slow, version v1."""
    labels = {"deployment": "slow", "namespace": "default", "version": "v1", **labels}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def closed(stage: str) -> str:
    return sample("modelplane_router_client_closed_total", stage=stage)


INFLIGHT = sample("modelplane_router_inflight_requests")
QUEUED = sample("modelplane_router_queue_depth")
STATUS_499 = sample("modelplane_router_requests_total", status="499")


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    spec = simulated_spec(tmp_path_factory.mktemp("slow"), "slow", latency_ms=LATENCY_S * 1000)
    server = start_replica(spec)
    try:
        yield server
    finally:
        stop_process(server.proc)


def send_infer(port: int) -> socket.socket:
    """A client that sends one inference request and does not read the answer yet."""
    return send_request(port, "/v2/models/slow/infer")


def replica_count(server: ServerProcess, status: int) -> float:
    text = server.request("GET", "/metrics")[1]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelplane_server_requests_total{") and f'status="{status}"' in line
    )


def replica_inflight(server: ServerProcess) -> float:
    text = server.request("GET", "/metrics")[1]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelplane_server_inflight_requests{")
    )


def test_a_queued_request_whose_client_left_is_never_forwarded(
    slow: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(deployment("slow", [endpoint("s", slow)], concurrency=1))
    served_before = served_requests(slow)
    first: list[int] = []
    holder = threading.Thread(target=lambda: first.append(router.infer("/v2/models/slow/infer")[0]))
    holder.start()
    wait_for(lambda: router.metrics().get(INFLIGHT) == 1, timeout=10, what="the first request in flight")

    sock = send_infer(router.port)
    wait_for(lambda: router.metrics().get(QUEUED) == 1, timeout=10, what="the second request queued")
    leave(sock)

    def dropped_while_the_first_runs() -> bool:
        m = router.metrics()
        return m.get(QUEUED) == 0 and m.get(closed("queued")) == 1 and m.get(INFLIGHT) == 1

    wait_for(dropped_while_the_first_runs, timeout=LATENCY_S / 2, what="the queue to drop the request")
    holder.join(30)
    assert first == [200]

    started = time.monotonic()
    assert router.infer("/v2/models/slow/infer")[0] == 200  # no ghost request ahead of it
    assert time.monotonic() - started < 1.5 * LATENCY_S
    assert served_requests(slow) == served_before + 2  # the first and the last: never the one that left
    m = router.metrics()
    assert m[STATUS_499] == 1 and m[closed("inflight")] == 0
    assert m[INFLIGHT] == 0 and m[QUEUED] == 0


def test_a_request_in_flight_whose_client_left_is_reset_at_the_replica(
    slow: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(deployment("slow", [endpoint("s", slow)], concurrency=1))
    cut_before = replica_count(slow, 499)
    sock = send_infer(router.port)
    wait_for(lambda: replica_inflight(slow) == 1, timeout=10, what="the request in the replica's hands")
    assert router.metrics()[INFLIGHT] == 1
    left = time.monotonic()
    leave(sock)

    def released() -> bool:
        m = router.metrics()
        return m.get(INFLIGHT) == 0 and m.get(closed("inflight")) == 1 and m.get(STATUS_499) == 1

    wait_for(released, timeout=LATENCY_S / 2, what="the in-flight request to be released")
    assert time.monotonic() - left < LATENCY_S  # the router did not wait for the replica's answer
    m = router.metrics()
    per_replica = 'modelplane_router_replica_inflight{deployment="slow",namespace="default",replica="s"}'
    assert m.get(per_replica, 0) == 0 and m[closed("queued")] == 0
    # the upstream connection was reset, not left to finish: the replica saw its client leave too
    wait_for(lambda: replica_count(slow, 499) == cut_before + 1, timeout=10, what="the replica's 499")
    assert router.infer("/v2/models/slow/infer")[0] == 200  # the pool holds no half-read connection


def test_a_client_that_half_closes_still_gets_its_answer(
    slow: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(deployment("slow", [endpoint("s", slow)], concurrency=1))
    with send_infer(router.port) as sock:
        sock.shutdown(socket.SHUT_WR)  # done sending; still reading
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"data":[3.0]' in answer
    m = router.metrics()
    assert m[closed("queued")] == m[closed("inflight")] == 0 and STATUS_499 not in m
