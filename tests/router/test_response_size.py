"""The router bounds what it takes from a replica (--max-response-size): a larger answer is cut off and
the client gets a 502 that names the bound, instead of the router buffering whatever a replica sends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ServerProcess
from tests.router.conftest import (
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
    server = start_replica(simulated_spec(tmp_path_factory.mktemp("size"), "sim"))
    try:
        yield server
    finally:
        stop_process(server.proc)


def test_an_answer_over_the_routers_bound_is_a_502_naming_the_flag(
    start_router: StartRouter, replica: ServerProcess
) -> None:
    table = deployment("sim", [endpoint("sim-0", replica)])
    small, _ = start_router(table, args=("--max-response-size", "20"))
    status, payload = small.infer()
    assert status == 502, payload
    assert "--max-response-size" in payload["error"] and "at most 20 bytes" in payload["error"]
    assert small.request("GET", "/v2/health/live")[0] == 200  # the router itself is fine

    roomy, _ = start_router(table)
    status, payload = roomy.infer()
    assert status == 200 and payload["outputs"][0]["data"] == [3.0]
