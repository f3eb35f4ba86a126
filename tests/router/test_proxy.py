"""The router in front of real replicas: routing, namespaces, versions, weights, readiness, queueing,
metrics. Replicas are `modelplane serve` processes of a simulated model; the router follows a file."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, wait_for
from tests.router.conftest import (
    BODY,
    EndpointsFile,
    RouterProcess,
    deployment,
    endpoint,
    post_many,
    served_requests,
    simulated_spec,
    start_replica,
    stop_process,
)

pytestmark = pytest.mark.slow


StartRouter = Callable[..., tuple[RouterProcess, EndpointsFile]]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    tmp = tmp_path_factory.mktemp("replicas")
    specs = {
        "a": simulated_spec(tmp, "sim"),
        "b": simulated_spec(tmp, "sim"),
        "v2": simulated_spec(tmp, "sim", version="v2"),
        "staging": simulated_spec(tmp, "tagger", namespace="staging"),
    }
    started = {key: ServerProcess(spec, "--log-level", "warning") for key, spec in specs.items()}
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            stop_process(server.proc)


def sim(replicas: dict[str, ServerProcess], *names: str, **kwargs: Any) -> dict[str, Any]:
    eps = [endpoint(n, replicas[n], version="v2" if n == "v2" else "v1") for n in names]
    return deployment("sim", eps, **kwargs)


def test_v2_and_v1_requests_route_and_answer_as_the_replica_does(
    replicas: dict[str, ServerProcess], start_router: StartRouter
) -> None:
    router, _ = start_router(sim(replicas, "a"))
    direct = replicas["a"].request("POST", "/v2/models/sim/infer", raw=BODY)
    assert router.infer() == direct
    assert direct[1]["outputs"][0]["data"] == [3.0]
    status, payload, _ = router.request(
        "POST", "/v1/models/sim:predict", json.dumps({"instances": [[1, 2], [3, 4]]}).encode()
    )
    assert (status, payload) == (200, {"predictions": [3.0, 7.0]})
    status, meta, _ = router.request("GET", "/v2/models/sim")  # metadata comes from the replica
    assert status == 200 and meta["name"] == "sim" and meta["inputs"][0]["name"] == "input0"
    assert router.request("GET", "/v2/models/sim/ready")[:2] == (200, {"name": "sim", "ready": True})
    assert router.request("GET", "/v1/models/sim")[:2] == (200, {"name": "sim", "ready": True})
    assert router.request("GET", "/v2/health/live")[0] == 200
    assert router.request("GET", "/v2/health/ready")[0] == 200
    # the replica's own errors come back as they are
    status, error, _ = router.request("POST", "/v2/models/sim/infer", b"{not json")
    assert status == 400 and "not valid JSON" in error["error"]


def test_namespaces_and_unknown_models(replicas: dict[str, ServerProcess], start_router: StartRouter) -> None:
    tagger = deployment("tagger", [endpoint("t", replicas["staging"])], namespace="staging")
    router, _ = start_router(sim(replicas, "a"), tagger)
    status, payload = router.infer("/ns/staging/v2/models/tagger/infer")
    assert status == 200 and payload["model_name"] == "tagger"
    assert router.infer("/ns/staging/v2/models/tagger/versions/v1/infer")[0] == 200
    status, payload, _ = router.request(
        "POST", "/ns/staging/v1/models/tagger:predict", b'{"instances": [[2, 2]]}'
    )
    assert (status, payload) == (200, {"predictions": [4.0]})
    # tagger lives in staging only; the 404 lists what default has
    status, payload = router.infer("/v2/models/tagger/infer")
    assert status == 404
    assert payload["error"] == "model 'tagger' not found in namespace 'default'; known models: sim."
    status, payload = router.infer("/ns/prod/v2/models/sim/infer")
    assert status == 404 and "namespace 'prod' has no models" in payload["error"]
    status, listing, _ = router.request("GET", "/v2/models")
    assert status == 200 and listing["models"] == ["sim"]
    assert router.request("GET", "/ns/staging/v2/models")[1]["models"] == ["tagger"]
    assert router.request("GET", "/nowhere")[0] == 404


def test_version_pinning_and_weights(replicas: dict[str, ServerProcess], start_router: StartRouter) -> None:
    router, table = start_router(sim(replicas, "a", "v2", traffic={"v1": 80, "v2": 20}))
    status, payload = router.infer("/v2/models/sim/versions/v2/infer")
    assert status == 200 and payload["model_version"] == "v2"
    status, payload = router.infer("/v2/models/sim/versions/v9/infer")
    assert status == 404 and payload["error"] == "model default/sim has no live version 'v9'; live: v1, v2."

    answers = post_many(router.port, "/v2/models/sim/infer", 1000)
    assert [s for s, _ in answers] == [200] * 1000
    versions = Counter(p["model_version"] for _, p in answers)
    assert versions["v2"] / 1000 == pytest.approx(0.20, abs=0.045), versions  # ±3.5σ of a binomial

    router.wait_table(table.write(sim(replicas, "a", "v2", traffic={"v1": 1, "v2": 0})))
    answers = post_many(router.port, "/v2/models/sim/infer", 200)
    assert Counter(p["model_version"] for _, p in answers) == {"v1": 200}
    # weight 0 takes no share, yet stays pinnable (how a canary is tested before it gets traffic)
    assert router.infer("/v2/models/sim/versions/v2/infer")[1]["model_version"] == "v2"


def test_only_ready_replicas_get_traffic_and_a_change_lands_within_1s(
    replicas: dict[str, ServerProcess], start_router: StartRouter
) -> None:
    a, b = replicas["a"], replicas["b"]
    # --ready-wait 0: a request that finds no ready replica is refused at once (test_holding.py: held)
    router, table = start_router(sim(replicas, "a", "b"), args=("--ready-wait", "0"))
    before = served_requests(b)
    post_many(router.port, "/v2/models/sim/infer", 60)
    assert served_requests(b) > before  # both take traffic while ready

    not_ready = deployment("sim", [endpoint("a", a), endpoint("b", b, ready=False)])
    assert router.wait_table(table.write(not_ready)) < 1.0
    before_a, before_b = served_requests(a), served_requests(b)
    answers = post_many(router.port, "/v2/models/sim/infer", 100)
    assert [s for s, _ in answers] == [200] * 100
    assert served_requests(b) == before_b
    assert served_requests(a) == before_a + 100

    # terminating gets no new traffic either, while a ready one exists
    draining = deployment("sim", [endpoint("a", a), endpoint("b", b, terminating=True)])
    router.wait_table(table.write(draining))
    post_many(router.port, "/v2/models/sim/infer", 40)
    assert served_requests(b) == before_b

    # no replica ready at all: 503 that names the deployment; ready again: served again
    none_ready = deployment("sim", [endpoint("a", a, ready=False), endpoint("b", b, ready=False)])
    router.wait_table(table.write(none_ready))
    status, payload = router.infer()
    assert status == 503 and payload["error"] == "no ready replicas for default/sim."
    assert router.request("GET", "/v2/models/sim/ready")[0] == 503
    router.wait_table(table.write(sim(replicas, "a", "b")))
    assert router.infer()[0] == 200


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path, start_router: StartRouter) -> None:
    slow = start_replica(simulated_spec(tmp_path, "slow", latency_ms=1500))
    try:
        router, _ = start_router(deployment("slow", [endpoint("s", slow)], concurrency=1))
        results: list[int] = []

        def call() -> None:
            results.append(router.infer("/v2/models/slow/infer")[0])

        # concurrency 1 and one replica: 1 in flight and a queue of 2 × 1 × 1 = 2
        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        labels = 'deployment="slow",namespace="default",version="v1"'

        def held() -> bool:
            m = router.metrics()
            return (
                m.get(f"modelplane_router_inflight_requests{{{labels}}}") == 1
                and m.get(f"modelplane_router_queue_depth{{{labels}}}") == 2
            )

        wait_for(held, timeout=10, what="1 request in flight and 2 queued")
        status, payload, response = router.request("POST", "/v2/models/slow/infer", BODY)
        assert status == 503 and response.getheader("retry-after") == "1"
        assert "default/slow is at capacity" in payload["error"]
        for t in threads:
            t.join(30)
        assert results == [200, 200, 200]  # the queued ones were served, in turn
        m = router.metrics()
        assert m[sample("modelplane_router_requests_total", deployment="slow", status="503")] == 1
        assert m[f"modelplane_router_queue_depth{{{labels}}}"] == 0
    finally:
        stop_process(slow.proc)


def test_metrics_count_exactly(replicas: dict[str, ServerProcess], start_router: StartRouter) -> None:
    router, _ = start_router(sim(replicas, "a"))
    answers = post_many(router.port, "/v2/models/sim/infer", 37)
    assert [s for s, _ in answers] == [200] * 37
    router.request("POST", "/v2/models/sim/versions/v1/infer", b"{bad")  # a 400 from the replica
    m = router.metrics()
    assert m[sample("modelplane_router_requests_total", status="200")] == 37
    assert m[sample("modelplane_router_requests_total", status="400")] == 1
    assert m[sample("modelplane_router_request_duration_seconds_count")] == 38
    assert m[sample("modelplane_router_request_duration_seconds_bucket", le="+Inf")] == 38
    assert m[sample("modelplane_router_inflight_requests")] == 0
    assert m[sample("modelplane_router_queue_depth")] == 0
    assert m[sample("modelplane_router_endpoints", state="ready")] == 1
    per_replica = {"deployment": "sim", "namespace": "default", "replica": "a"}
    assert m[sample("modelplane_router_replica_requests_total", **per_replica)] == 38


def sample(name: str, **labels: str) -> str:
    """A sample's key as Prometheus text writes it (labels sorted); deployment sim, v1, by default."""
    if "replica" not in labels:
        labels = {"deployment": "sim", "namespace": "default", "version": "v1", **labels}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
