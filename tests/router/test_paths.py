"""Paths through the router and at the replica, both read by net/paths.py: the same routes, the same
400 for a path that cannot name a model, and a model named like a keyword treated as a model."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from modelplane.net.http import Request
from modelplane.net.paths import MAX_PATH, BadPath
from modelplane.router.proxy import Proxy
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
from tests.router.test_proxy_in_process import FakePool, answer, run, send, table

StartRouter = Callable[..., tuple[RouterProcess, EndpointsFile]]

BAD = [
    ("/v2/models//infer", "empty segment"),
    ("/v2/models/sim/../sim/infer", "'..' segment"),
    ("/v2/models/%73im/infer", "percent-encoded"),
    ("/ns/default/v2/models/s%69m/infer", "percent-encoded"),
    ("/v2/models/sim/versions//infer", "empty segment"),
    ("/v1/models/:predict", "empty segment"),
    ("/v2/models/" + "a" * MAX_PATH + "/infer", f"at most {MAX_PATH}"),
]


def test_a_model_named_versions_is_not_taken_for_a_pinned_version() -> None:
    """The router once took any path containing `/versions/` as pinned: a deployment named `versions`
    was answered as "version '' of default/versions"."""

    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        t = table({"a": ("v1", False)}, replicas=0)
        named = t.deployments[0].model_copy(update={"name": "versions"})
        proxy.update(t.model_copy(update={"deployments": [named]}))
        status, payload = answer(send(proxy, "/v2/models/versions/infer"))
        assert status == 503
        assert payload["error"].startswith("no ready replicas for default/versions: it wants 0 replicas")

    run(main)


@pytest.mark.parametrize(("path", "message"), BAD)
def test_bad_paths_are_refused_by_the_router_before_any_lookup(path: str, message: str) -> None:
    async def main(pool: FakePool) -> None:
        proxy = Proxy(pool)
        proxy.update(table({"a": ("v1", True)}))
        with pytest.raises(BadPath, match=message):
            proxy.handle(Request("POST", path, "", BODY, b"application/json", {}))
        assert pool.sent == []

    run(main)


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_replica(simulated_spec(tmp_path_factory.mktemp("paths"), "sim"))
    try:
        yield server
    finally:
        stop_process(server.proc)


@pytest.mark.slow
def test_router_and_replica_answer_the_same_paths_the_same_way(
    replica: ServerProcess, start_router: StartRouter
) -> None:
    router, _ = start_router(deployment("sim", [endpoint("a", replica)]))
    for path, message in BAD:
        routed = router.request("POST", path, BODY)[:2]
        direct = replica.request("POST", path, raw=BODY)
        assert routed[0] == direct[0] == 400, (path, routed, direct)
        assert message in routed[1]["error"] and message in direct[1]["error"]
    for path in ("/v2/models/sim/infer", "/v2/models/sim/infer/", "/v2/models/sim/versions/v1/infer"):
        assert router.request("POST", path, BODY)[0] == 200
        assert replica.request("POST", path, raw=BODY)[0] == 200
    assert router.request("POST", "/ns/default/v1/models/sim:predict", b'{"instances": [[1, 2]]}')[:2] == (
        200,
        {"predictions": [3.0]},
    )
    # another verb, or a path under a model that nothing serves: 404 at both
    for path in ("/v1/models/sim:explain", "/v2/models/sim/explain"):
        assert router.request("POST", path, BODY)[0] == replica.request("POST", path, raw=BODY)[0] == 404
