"""HEAD through the router: answered at once, like GET without a body, never holding a replica's slot.

A HEAD answer carries the length its GET would have and no body; an upstream parser that is not told
the request was HEAD waits for that body until its timeout, holding a connection and a concurrency
slot (eight HEADs once blocked a deployment with `concurrency: 8`).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ServerProcess
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

StartRouter = Callable[..., tuple[RouterProcess, EndpointsFile]]


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_replica(simulated_spec(tmp_path_factory.mktemp("head"), "sim"))
    try:
        yield server
    finally:
        stop_process(server.proc)


def head(port: int, path: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes, float]:
    """One HEAD on a fresh connection: status, headers, what came after the head, and seconds taken."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("HEAD", path)
        response = conn.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, body, time.monotonic() - started
    finally:
        conn.close()


def get_length(port: int, path: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, len(response.read())
    finally:
        conn.close()


def test_heads_answer_at_once_and_leave_every_slot_free(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(deployment("sim", [endpoint("a", replica)], concurrency=8))
    results: list[tuple[int, dict[str, str], bytes, float] | BaseException] = []
    lock = threading.Lock()

    def one(path: str) -> None:
        try:
            result: tuple[int, dict[str, str], bytes, float] | BaseException = head(router.port, path)
        except BaseException as error:  # a timeout: the HEAD hung
            result = error
        with lock:
            results.append(result)

    # forwarded to the replica: its metadata (a GET route) and its infer route (POST only: 405)
    paths = ["/v2/models/sim"] * 6 + ["/v2/models/sim/infer"] * 4
    threads = [threading.Thread(target=one, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(not isinstance(r, BaseException) for r in results), results
    answers = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(r[0] for r in answers) == [200] * 6 + [405] * 4
    assert all(r[2] == b"" for r in answers)  # no body bytes
    assert max(r[3] for r in answers) < 3, [r[3] for r in answers]

    # every slot is free again: a POST is served at once
    started = time.monotonic()
    status, payload, _ = router.request("POST", "/v2/models/sim/infer", BODY)
    assert status == 200 and payload["outputs"][0]["data"] == [3.0]
    assert time.monotonic() - started < 3
    assert router.metrics().get('modelplane_router_inflight{deployment="sim",namespace="default"}', 0) == 0


@pytest.mark.parametrize(
    "path",
    ["/v2/models/sim", "/v2/models/sim/ready", "/v1/models/sim", "/v2/health/ready", "/v2", "/v2/models"],
)
def test_head_has_the_status_and_length_of_get_and_no_body(
    replica: ServerProcess, start_router: StartRouter, path: str
) -> None:
    router, _ = start_router(deployment("sim", [endpoint("a", replica)], concurrency=8))
    status, length = get_length(router.port, path)
    head_status, headers, body, _ = head(router.port, path)
    assert (head_status, body) == (status, b"")
    assert int(headers["content-length"]) == length


@pytest.mark.parametrize(
    "path", ["/v2/models/sim", "/v2/models/sim/ready", "/v1/models/sim", "/v2/health/live"]
)
def test_the_model_server_answers_head_like_get(replica: ServerProcess, path: str) -> None:
    status, length = get_length(replica.port, path)
    head_status, headers, body, _ = head(replica.port, path)
    assert (head_status, body) == (status, b"")
    assert int(headers["content-length"]) == length
