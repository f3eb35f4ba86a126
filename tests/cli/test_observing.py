"""`logs`, `events` and `top` against a fake API (see test_objects.py), and the router-metrics reader."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from modelplane.cli.observing import choose_replica, events, logs, parse_router_metrics, top, traffic_rates
from tests.cli.test_objects import FakeApi, clear_env, free_port, run, serve_fake_api
from tests.cli.test_printing import EVENTS, REPLICA, USAGE


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with serve_fake_api() as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_env(monkeypatch, tmp_path)


def replica(name: str, *, ready: bool, deployment: str = "iris") -> dict[str, Any]:
    copied = copy.deepcopy(REPLICA)
    copied["metadata"]["name"] = name
    copied["spec"]["deployment"] = deployment
    copied["status"]["ready"] = ready
    return copied


def test_logs_of_a_deployment_picks_its_ready_replica(api: FakeApi) -> None:
    items = [
        replica("iris-a", ready=False),
        replica("iris-b", ready=True),
        replica("x", ready=True, deployment="x"),
    ]
    api.on("GET", "/api/v1/replicas", (200, {"items": items}))
    api.on("GET", "/api/v1/logs/default/iris-b", (200, {"text": "loaded iris\nlistening\n", "offset": 23}))
    result = run(logs, api, "iris", "--tail", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "loaded iris\nlistening\n"
    assert "Found 2 replicas, using replica/iris-b; pick one with --replica." in result.stderr
    assert api.seen[-1].query == {"tail": "2"}


def test_logs_of_a_named_replica_and_a_chosen_one(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas", (200, {"items": [replica("iris-a", ready=False)]}))
    api.on("GET", "/api/v1/logs/staging/iris-a", (200, {"text": "a\n", "offset": 2}))
    assert run(logs, api, "replica/iris-a", "-n", "staging").stdout == "a\n"
    assert run(logs, api, "iris", "--replica", "iris-a", "-n", "staging").stdout == "a\n"
    result = run(logs, api, "iris", "--replica", "iris-z")
    assert result.exit_code == 1
    assert "Replica 'iris-z' does not belong to deployment 'iris' (its replicas: iris-a)." in result.stderr


def test_without_a_ready_replica_a_job_shows_its_newest_and_a_deployment_its_first_by_name() -> None:
    older, newer = replica("t-b", ready=False), replica("t-a", ready=False)
    older["metadata"]["creationTimestamp"] = "2027-01-15T04:00:00Z"
    newer["metadata"]["creationTimestamp"] = "2027-01-15T05:00:00Z"
    assert choose_replica([older, newer], "t", None, kind="job") == "t-a"
    newer["metadata"]["creationTimestamp"] = "2027-01-15T03:00:00Z"
    assert choose_replica([older, newer], "t", None, kind="job") == "t-b"
    assert choose_replica([older, newer], "t", None) == "t-a"  # a deployment: the first name
    assert choose_replica([older, replica("t-c", ready=True)], "t", None, kind="job") == "t-c"


def test_logs_of_a_deployment_without_replicas(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas", (200, {"items": []}))
    result = run(logs, api, "iris")
    assert result.exit_code == 1
    assert "has no replicas yet" in result.stderr


def test_logs_follow_polls_with_the_offset_until_the_replica_is_gone(api: FakeApi) -> None:
    api.on(
        "GET",
        "/api/v1/logs/default/iris-a",
        [
            (200, {"text": "one\n", "offset": 4}),
            (200, {"text": "two\n", "offset": 8}),
            (200, {"text": "", "offset": 8}),
            (404, {"error": "replica iris-a not found", "reason": "NotFound"}),
        ],
    )
    result = run(logs, api, "replica/iris-a", "-f")
    assert result.stdout == "one\ntwo\n"
    assert result.exit_code == 1 and "replica iris-a not found" in result.stderr
    assert [seen.query.get("offset") for seen in api.seen] == [None, "4", "8", "8"]
    assert api.seen[1].query["wait"] == "20"


def test_events_of_a_namespace_everywhere_and_for_one_object(api: FakeApi) -> None:
    api.on("GET", "/api/v1/events", (200, {"items": EVENTS}))
    result = run(events, api)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "LAST",
        "SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "MESSAGE",
        "COUNT",
    ]
    assert run(events, api, "-A").stdout.startswith("NAMESPACE")
    run(events, api, "--for", "md/iris", "-n", "prod")
    assert [seen.query for seen in api.seen] == [
        {"namespace": "default"},
        {},
        {"namespace": "prod", "kind": "ModelDeployment", "name": "iris"},
    ]
    assert run(events, api, "--for", "iris").exit_code == 2


def test_top_without_a_router_shows_dashes_for_traffic(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas", (200, {"items": [REPLICA]}))
    api.on("GET", "/api/v1/usage", (200, {"items": [USAGE]}))
    result = run(top, api, "--ingress", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME              DEPLOYMENT   CPU    MEMORY   INFLIGHT   REQ/S",
        "iris-7d9f-abcde   iris         250m   312Mi    -          -",
    ]


def test_top_with_no_replicas(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas", (200, {"items": []}))
    result = run(top, api, "-n", "staging")
    assert result.exit_code == 0
    assert result.stderr.strip() == "No replicas found in staging namespace."


METRICS = """\
# HELP modelplane_router_replica_inflight In-flight requests per replica.
# TYPE modelplane_router_replica_inflight gauge
modelplane_router_replica_inflight{namespace="default",replica="iris-a"} 3.0
modelplane_router_replica_inflight{namespace="staging",replica="iris-a"} 1.0
# HELP modelplane_router_replica_requests Requests sent to each replica.
# TYPE modelplane_router_replica_requests counter
modelplane_router_replica_requests_total{namespace="default",replica="iris-a"} 120.0
# TYPE something_else gauge
something_else 1.0
"""


def test_router_metrics_to_inflight_and_rates() -> None:
    first = parse_router_metrics(METRICS)
    assert first == {
        ("default", "iris-a"): {"inflight": 3.0, "requests": 120.0},
        ("staging", "iris-a"): {"inflight": 1.0},
    }
    second = parse_router_metrics(METRICS.replace("120.0", "170.0"))
    assert traffic_rates(first, second, 2.0) == {
        ("default", "iris-a"): (3.0, 25.0),
        ("staging", "iris-a"): (1.0, None),
    }
    assert parse_router_metrics("not prometheus {{{") == {}


@pytest.mark.parametrize("command", [logs, events, top])
def test_help(command: Any) -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and "--server" in result.stdout


def test_top_shows_request_numbers_per_deployment_from_the_control_plane(api: FakeApi) -> None:
    """No router answers at --ingress: the replica rows take the control plane's per-replica numbers,
    and a table per deployment follows (ready replicas, in-flight, req/s, p99, 5xx share)."""
    api.on("GET", "/api/v1/replicas", (200, {"items": [REPLICA]}))
    api.on("GET", "/api/v1/usage", (200, {"items": [USAGE]}))
    total = {"requests": 400, "requestsPerSecond": 40.0, "inflight": 2.5, "p99Ms": 12.25, "errorRate": 0.01}
    replicas = [{"name": "iris-7d9f-abcde", "inflight": 2.5, "requestsPerSecond": 40.0}]
    item = {"namespace": "default", "name": "iris", "total": total, "versions": [], "replicas": replicas}
    api.on("GET", "/api/v1/metrics", (200, {"windowSeconds": 10, "items": [item]}))
    result = run(top, api, "--ingress", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME              DEPLOYMENT   CPU    MEMORY   INFLIGHT   REQ/S",
        "iris-7d9f-abcde   iris         250m   312Mi    2          40.0",
        "",
        "DEPLOYMENT   READY   INFLIGHT   REQ/S   P99      ERRORS",
        "iris         1/1     2.5        40.0    12.2ms   1.0%",
    ]
    assert api.seen[-1].query == {"namespace": "default", "window": "10"}
