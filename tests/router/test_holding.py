"""Requests held while their deployment has no ready replica (holding.py and the proxy's hold/release):
served once a table brings a ready replica, 503 naming the wait when none comes in time, bounded,
dropped unsent when their client leaves. `Holding` alone first, then a real router before real replicas."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelplane.router.holding import Holding
from tests.conftest import ServerProcess, wait_for
from tests.router.conftest import (
    BODY,
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

StartRouter = Callable[..., tuple[RouterProcess, EndpointsFile]]
SLOW_S = 2.0


class FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def test_held_requests_keep_their_order_and_leave_with_their_timer_cancelled() -> None:
    holding: Holding[str] = Holding(capacity=2)
    first, second, third = FakeTimer(), FakeTimer(), FakeTimer()
    holding.add("first", first)
    assert not holding.full
    holding.add("second", second)
    assert holding.full and len(holding) == 2 and holding.waiters() == ["first", "second"]
    assert holding.remove("first") and first.cancelled and not second.cancelled
    assert not holding.remove("first") and not holding.full
    holding.add("third", third)
    assert holding.take_all() == ["second", "third"] and second.cancelled and third.cancelled
    assert len(holding) == 0 and holding.waiters() == []


def sample(name: str, *, deployment: str = "sim", **labels: str) -> str:
    """A sample's key as Prometheus text writes it (labels sorted), of namespace default."""
    labels = {"deployment": deployment, "namespace": "default", **labels}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def held(version: str = "", deployment: str = "sim") -> str:
    """The held gauge; version "" for unpinned requests held before any version could serve."""
    return sample("modelplane_router_held_requests", deployment=deployment, version=version)


def answered(status: int, version: str = "") -> str:
    return sample("modelplane_router_requests_total", version=version, status=str(status))


def read_answer(sock: socket.socket) -> tuple[int, Any, http.client.HTTPResponse]:
    """The answer to the request `send_request` wrote on `sock`."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read()), response


def not_ready(server: ServerProcess) -> dict[str, Any]:
    return deployment("sim", [endpoint("a", server, ready=False)])


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_replica(simulated_spec(tmp_path_factory.mktemp("holding"), "sim"))
    try:
        yield server
    finally:
        stop_process(server.proc)


@pytest.mark.slow
def test_a_request_held_while_no_replica_is_ready_is_served_once_one_is(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, table = start_router(not_ready(replica))
    results: dict[str, tuple[int, Any]] = {}
    paths = {"drawn": "/v2/models/sim/infer", "pinned": "/v2/models/sim/versions/v1/infer"}
    threads = [
        threading.Thread(target=lambda k=key, p=path: results.__setitem__(k, router.infer(p)))
        for key, path in paths.items()
    ]
    for t in threads:
        t.start()
    wait_for(
        lambda: router.metrics().get(held()) == 1 and router.metrics().get(held("v1")) == 1,
        timeout=10,
        what="one unpinned and one pinned request held",
    )
    # readiness is reported at once, never held
    assert router.request("GET", "/v2/models/sim/ready")[0] == 503
    assert router.request("GET", "/v1/models/sim")[:2] == (200, {"name": "sim", "ready": False})

    table.write(deployment("sim", [endpoint("a", replica)]))
    for t in threads:
        t.join(30)
    assert results["drawn"][0] == 200 and results["drawn"][1]["model_version"] == "v1"
    assert results["pinned"][0] == 200
    m = router.metrics()
    assert m[held()] == 0 and m[held("v1")] == 0
    assert m[answered(200, "v1")] == 2 and answered(503) not in m  # the drawn one counts under v1


@pytest.mark.slow
def test_a_request_held_past_ready_wait_gets_503_naming_the_wait(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(not_ready(replica), args=("--ready-wait", "1"))
    started = time.monotonic()
    status, payload = router.infer()
    waited = time.monotonic() - started
    assert (status, payload) == (503, {"error": "no ready replicas for default/sim after waiting 1 s."})
    assert 0.95 <= waited < 5
    status, payload = router.infer("/v2/models/sim/versions/v1/infer")
    assert status == 503
    assert payload["error"] == "no ready replicas for version 'v1' of default/sim after waiting 1 s."
    m = router.metrics()
    assert m[answered(503)] == 1 and m[answered(503, "v1")] == 1  # the 503s of held-then-timed-out
    assert m[held()] == 0 and m[held("v1")] == 0


@pytest.mark.slow
def test_a_held_request_whose_client_left_is_never_forwarded(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, table = start_router(not_ready(replica))
    sock = send_request(router.port, "/v2/models/sim/infer")
    wait_for(lambda: router.metrics().get(held()) == 1, timeout=10, what="the request held")
    leave(sock)
    closed = sample("modelplane_router_client_closed_total", version="", stage="held")

    def removed() -> bool:
        m = router.metrics()
        return m.get(held()) == 0 and m.get(closed) == 1 and m.get(answered(499)) == 1

    wait_for(removed, timeout=10, what="the held request to be removed")
    served_before = served_requests(replica)
    router.wait_table(table.write(deployment("sim", [endpoint("a", replica)])))
    assert router.infer()[0] == 200
    assert served_requests(replica) == served_before + 1  # only the last one: never the one that left


@pytest.mark.slow
def test_a_deployment_holds_at_most_ready_wait_queue_requests(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, table = start_router(not_ready(replica), args=("--ready-wait-queue", "2"))
    socks = [send_request(router.port, "/v2/models/sim/infer") for _ in range(2)]
    try:
        wait_for(lambda: router.metrics().get(held()) == 2, timeout=10, what="2 requests held")
        status, payload, response = router.request("POST", "/v2/models/sim/infer", BODY)
        assert status == 503 and response.getheader("retry-after") == "1"
        message = "default/sim has no ready replica and 2 request(s) already wait for one; retry shortly."
        assert payload["error"] == message
        table.write(deployment("sim", [endpoint("a", replica)]))
        assert [read_answer(sock)[0] for sock in socks] == [200, 200]
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow
def test_a_queued_request_whose_version_lost_its_replicas_is_held_then_served(
    tmp_path: Any, start_router: StartRouter
) -> None:
    slow = start_replica(simulated_spec(tmp_path, "slow", latency_ms=SLOW_S * 1000))
    try:

        def table_of(ready: bool) -> dict[str, Any]:
            return deployment("slow", [endpoint("s", slow, ready=ready)], concurrency=1)

        router, table = start_router(table_of(True))
        queued = sample("modelplane_router_queue_depth", deployment="slow", version="v1")
        first = send_request(router.port, "/v2/models/slow/infer")
        inflight = sample("modelplane_router_inflight_requests", deployment="slow", version="v1")
        wait_for(lambda: router.metrics().get(inflight) == 1, timeout=10, what="the first in flight")
        second = send_request(router.port, "/v2/models/slow/infer")
        wait_for(lambda: router.metrics().get(queued) == 1, timeout=10, what="the second queued")

        router.wait_table(table.write(table_of(False)))  # v1 has no ready replica any more
        m = router.metrics()
        assert m[queued] == 0 and m[held("v1", "slow")] == 1  # held, not refused
        table.write(table_of(True))
        assert read_answer(first)[0] == 200  # in flight when its replica turned not ready: finished
        assert read_answer(second)[0] == 200
        assert router.metrics()[held("v1", "slow")] == 0
    finally:
        stop_process(slow.proc)


@pytest.mark.slow
def test_a_retry_that_finds_no_ready_replica_is_held_until_one_is(
    tmp_path: Any, replica: ServerProcess, start_router: StartRouter
) -> None:
    doomed = start_replica(simulated_spec(tmp_path, "sim", latency_ms=SLOW_S * 1000))
    try:
        router, table = start_router(deployment("sim", [endpoint("d", doomed)]))
        sock = send_request(router.port, "/v2/models/sim/infer")
        inflight = sample("modelplane_router_inflight_requests", version="v1")
        wait_for(lambda: router.metrics().get(inflight) == 1, timeout=10, what="the request in flight")
        router.wait_table(table.write(deployment("sim", [endpoint("d", doomed, ready=False)])))
        stop_process(doomed.proc)  # SIGKILL mid-request: the retry finds no ready replica
        retries = sample("modelplane_router_retries_total", version="v1")
        wait_for(
            lambda: router.metrics().get(held("v1")) == 1 and router.metrics().get(retries) == 1,
            timeout=10,
            what="the retry held",
        )
        table.write(deployment("sim", [endpoint("d", doomed, ready=False), endpoint("a", replica)]))
        status, payload, _ = read_answer(sock)
        assert status == 200 and payload["outputs"][0]["data"] == [3.0]
    finally:
        stop_process(doomed.proc)


@pytest.mark.slow
def test_sigterm_answers_held_requests_at_once(replica: ServerProcess, start_router: StartRouter) -> None:
    router, _ = start_router(not_ready(replica))
    sock = send_request(router.port, "/v2/models/sim/infer")
    wait_for(lambda: router.metrics().get(held()) == 1, timeout=10, what="the request held")
    router.proc.send_signal(signal.SIGTERM)
    status, payload, _ = read_answer(sock)  # well before the 15 s wait: no table will come any more
    assert status == 503
    assert payload["error"] == "no ready replicas for default/sim; the router is shutting down."
    assert router.proc.wait(10) == 0
