"""`apply`, `get`, `describe`, `delete`, `scale` as a user runs them.

Against a fake API (a real HTTP server in a thread answering canned JSON, so requests, headers and
error handling go through the real client), with no server at all, and end to end against a real
control plane started by `modelplane up` (skipped until modelplane.api exists).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelplane.cli.objects import apply, delete, describe, get, scale
from tests.cli.test_printing import DEPLOYMENT, EVENTS, NODEPOOL, REPLICA

Answer = tuple[int, Any]
Route = Answer | Callable[[dict[str, str], bytes], Answer] | list[Answer]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeApi:
    """Canned answers by (method, path); a list of answers is served in order (the last repeats)."""

    url: str = ""
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, path: str, route: Route) -> None:
        self.routes[(method, path)] = route

    def answer(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Answer:
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.seen.append(Seen(method, parts.path, query, body, headers))
        route = self.routes.get((method, parts.path))
        if route is None:
            return 404, {"error": f"no route {method} {parts.path}", "reason": "NotFound"}
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        if callable(route):
            return route(query, body)
        return route


@contextlib.contextmanager
def serve_fake_api() -> Iterator[FakeApi]:
    """A FakeApi listening on a free loopback port for the duration of the block."""
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = fake.answer(self.command, self.path, body, dict(self.headers.items()))
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with serve_fake_api() as fake:
        yield fake


def clear_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No server, token or state dir of the person running the tests leaks into them."""
    for name in ("MODELPLANE_SERVER", "MODELPLANE_TOKEN", "MODELPLANE_INGRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELPLANE_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_env(monkeypatch, tmp_path)


def run(command: Any, api: FakeApi | str, *args: str) -> Result:
    server = api if isinstance(api, str) else api.url
    return CliRunner().invoke(command, [*args, "--server", server])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


GOOD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: simulated}
---
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: gpu}
spec:
  capacity: {cpu: "8", memory: 32Gi, gpu: 1}
"""

BAD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment}
spec:
  model: {format: sklearn, uri: ./s.joblib}
  resources:
    limits: {gpu: 0.5}
  traffic: [{version: v1, weight: 90}]
---
apiVersion: modelplane.dev/v1alpha1
kind: Pod
metadata: {name: p}
"""


# --- with no control plane ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [
        (get, ["md"]),
        (get, ["replicas", "-A"]),
        (describe, ["md", "iris"]),
        (delete, ["md", "iris"]),
        (scale, ["iris", "--replicas", "2"]),
    ],
)
def test_no_control_plane_is_one_sentence_and_exit_1(command: Any, args: list[str]) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    result = run(command, server, *args)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: No control plane at {server}. Start one with `modelplane up`, or point --server at it."
    )
    assert isinstance(result.exception, SystemExit)


def test_the_server_comes_from_the_environment_when_the_command_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MODELPLANE_SERVER", server)
    result = CliRunner().invoke(get, ["md"])
    assert result.exit_code == 1
    assert f"No control plane at {server}." in result.stderr


def test_the_server_defaults_to_what_up_recorded_in_the_state_dir(api: FakeApi, tmp_path: Path) -> None:
    api.on("GET", "/api/v1/modeldeployments", (200, {"items": []}))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "up.json").write_text(json.dumps({"api": api.url, "ingress": "http://127.0.0.1:1"}))
    result = CliRunner().invoke(get, ["md"])
    assert result.exit_code == 0, result.output
    assert len(api.seen) == 1


def test_no_traceback_from_a_real_process() -> None:
    code = "from modelplane.cli.objects import get; get()"
    server = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-c", code, "md", "--server", server],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("Start one with `modelplane up`, or point --server at it.")


def test_a_bad_file_is_reported_locally_and_nothing_is_sent(api: FakeApi, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = run(apply, api, "-f", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:7: ModelDeployment/sentiment: spec.resources.limits.gpu:")
    assert lines[1].startswith(f"{bad}:8: ModelDeployment/sentiment: spec.traffic:")
    assert lines[2].startswith(f"{bad}:11: Pod/p: unknown kind 'Pod'")
    assert lines[3] == "3 errors found; nothing was sent to the control plane."
    assert api.seen == []


def test_apply_needs_a_file() -> None:
    result = CliRunner().invoke(apply, [])
    assert result.exit_code == 2
    assert "-f FILE" in result.output


# --- against a fake API -------------------------------------------------------------------------


def test_apply_posts_each_file_and_prints_each_result(api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("iris", "other").replace("name: gpu", "name: cpu"))
    api.on(
        "POST",
        "/api/v1/apply",
        [
            (200, {"results": [
                {"kind": "ModelDeployment", "namespace": "default", "name": "iris", "result": "created"},
                {"kind": "NodePool", "namespace": "", "name": "gpu", "result": "unchanged"},
            ]}),
            (200, {"results": [
                {"kind": "ModelDeployment", "namespace": "default", "name": "other", "result": "configured"},
            ]}),
        ],
    )  # fmt: skip
    result = run(apply, api, "-f", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "modeldeployment.modelplane.dev/iris created",
        "nodepool.modelplane.dev/gpu unchanged",
        "modeldeployment.modelplane.dev/other configured",
    ]
    assert [seen.body.decode() for seen in api.seen] == [GOOD, (tmp_path / "b.yaml").read_text()]
    assert api.seen[0].headers["Content-Type"] == "application/yaml"
    assert api.seen[0].query == {"file": str(tmp_path / "a.yaml"), "baseDir": str(tmp_path.resolve())}


def test_422_prints_the_apis_error_and_each_detail(api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    api.on(
        "POST",
        "/api/v1/apply",
        (422, {
            "error": "ModelDeployment/iris is invalid",
            "reason": "Invalid",
            "details": [
                {"field": "spec.replicas", "message": "must be at least 0", "line": 5},
                "spec.model: something else.",
            ],
        }),
    )  # fmt: skip
    result = run(apply, api, "-f", str(tmp_path / "a.yaml"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: ModelDeployment/iris is invalid.",
        "  line 5: spec.replicas: must be at least 0",
        "  spec.model: something else.",
    ]


def test_401_says_how_to_pass_the_token(api: FakeApi) -> None:
    api.on(
        "GET", "/api/v1/modeldeployments", (401, {"error": "missing bearer token", "reason": "Unauthorized"})
    )
    result = run(get, api, "md")
    assert result.exit_code == 1
    assert "refused the request (missing bearer token)" in result.stderr
    assert "Pass --token or set MODELPLANE_TOKEN" in result.stderr


def test_the_token_is_sent_from_the_option_the_env_or_the_state_dir(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.on("GET", "/api/v1/modeldeployments", (200, {"items": []}))
    state = tmp_path / "state"
    state.mkdir()
    (state / "token").write_text("from-file\n")
    run(get, api, "md")
    monkeypatch.setenv("MODELPLANE_TOKEN", "from-env")
    run(get, api, "md")
    run(get, api, "md", "--token", "from-option")
    assert [seen.headers.get("Authorization") for seen in api.seen] == [
        "Bearer from-file",
        "Bearer from-env",
        "Bearer from-option",
    ]


def test_500_and_non_json_answers_are_sentences(api: FakeApi) -> None:
    api.on("GET", "/api/v1/modeldeployments", (500, {"error": "database is locked"}))
    api.on("GET", "/api/v1/replicas", (200, b"<html>router</html>"))
    result = run(get, api, "md")
    assert result.exit_code == 1
    assert "database is locked. This is a bug or an outage of the control plane" in result.stderr
    result = run(get, api, "replicas")
    assert result.exit_code == 1
    assert "did not answer with JSON" in result.stderr
    assert "Traceback" not in result.output


def test_get_lists_with_namespace_and_selector(api: FakeApi) -> None:
    api.on("GET", "/api/v1/modeldeployments", (200, {"items": [DEPLOYMENT], "resourceVersion": 42}))
    result = run(get, api, "deployments", "-n", "production", "-l", "team=nlp")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "VERSION",
        "AGE",
    ]
    assert result.stdout.splitlines()[1].startswith("iris ")
    assert api.seen[0].query == {"namespace": "production", "selector": "team=nlp"}


def test_get_all_namespaces_omits_the_namespace_and_adds_a_column(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas", (200, {"items": [REPLICA]}))
    result = run(get, api, "rep", "-A")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("NAMESPACE   NAME ")
    assert api.seen[0].query == {}


def test_get_nothing_found(api: FakeApi) -> None:
    api.on("GET", "/api/v1/jobs", (200, {"items": []}))
    result = run(get, api, "jobs")
    assert result.exit_code == 0
    assert result.stderr.strip() == "No resources found in default namespace."


def test_get_one_object_as_json_and_yaml_and_a_list(api: FakeApi) -> None:
    api.on("GET", "/api/v1/modeldeployments/default/iris", (200, DEPLOYMENT))
    api.on("GET", "/api/v1/modeldeployments", (200, {"items": [DEPLOYMENT]}))
    result = run(get, api, "md", "iris", "-o", "json")
    assert json.loads(result.stdout) == DEPLOYMENT
    result = run(get, api, "md/iris", "-o", "yaml")
    assert result.stdout.startswith("apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\n")
    result = run(get, api, "md", "-o", "json")
    assert json.loads(result.stdout) == {"apiVersion": "v1", "kind": "List", "items": [DEPLOYMENT]}
    result = run(get, api, "md", "-o", "name")
    assert result.stdout == "modeldeployment.modelplane.dev/iris\n"


def test_get_cluster_wide_kinds_have_no_namespace(api: FakeApi) -> None:
    api.on("GET", "/api/v1/nodepools", (200, {"items": [NODEPOOL]}))
    api.on("GET", "/api/v1/nodepools/gpu", (200, NODEPOOL))
    assert run(get, api, "np").exit_code == 0
    assert run(get, api, "np", "gpu").exit_code == 0
    assert api.seen[0].query == {}
    assert api.seen[1].path == "/api/v1/nodepools/gpu"


def test_get_not_found_shows_the_apis_error(api: FakeApi) -> None:
    api.on(
        "GET",
        "/api/v1/modeldeployments/default/nope",
        (404, {"error": 'modeldeployment "nope" not found in namespace default', "reason": "NotFound"}),
    )
    result = run(get, api, "md", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == 'Error: modeldeployment "nope" not found in namespace default.'


def test_get_from_files(api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    api.on("GET", "/api/v1/modeldeployments/default/iris", (200, DEPLOYMENT))
    api.on("GET", "/api/v1/nodepools/gpu", (200, NODEPOOL))
    result = run(get, api, "-f", str(tmp_path / "a.yaml"))
    assert result.exit_code == 0, result.output
    tables = result.stdout.split("\n\n")
    assert tables[0].startswith("NAME   READY") and tables[1].startswith("NAME   CPU")


def test_unknown_kind_is_a_usage_error_listing_the_kinds(api: FakeApi) -> None:
    result = run(get, api, "pods")
    assert result.exit_code == 2
    assert "unknown kind 'pods'" in result.output and "modeldeployments (" in result.output
    assert run(get, api).exit_code == 2
    assert api.seen == []


def test_describe_deployment_gathers_replicas_and_events(api: FakeApi) -> None:
    stranger = copy.deepcopy(REPLICA)
    stranger["metadata"]["name"] = "other-1"
    stranger["spec"]["deployment"] = "other"
    api.on("GET", "/api/v1/modeldeployments/default/iris", (200, DEPLOYMENT))
    api.on("GET", "/api/v1/replicas", (200, {"items": [REPLICA, stranger]}))
    api.on("GET", "/api/v1/events", (200, {"items": EVENTS}))
    result = run(describe, api, "md", "iris")
    assert result.exit_code == 0, result.output
    assert "iris-7d9f-abcde" in result.stdout and "other-1" not in result.stdout
    assert "SuccessfulCreate" in result.stdout
    events = next(seen for seen in api.seen if seen.path == "/api/v1/events")
    assert events.query == {"namespace": "default", "kind": "ModelDeployment", "name": "iris"}


def test_describe_replica_without_an_events_endpoint(api: FakeApi) -> None:
    api.on("GET", "/api/v1/replicas/default/iris-7d9f-abcde", (200, REPLICA))
    result = run(describe, api, "replica/iris-7d9f-abcde")
    assert result.exit_code == 0, result.output
    assert "Limits:  not enforced (no writable cgroup)" in result.stdout
    assert result.stdout.rstrip().endswith("Events:  <none>")


def test_delete_by_name_and_from_files(api: FakeApi, tmp_path: Path) -> None:
    api.on("DELETE", "/api/v1/modeldeployments/staging/iris", (200, DEPLOYMENT))
    api.on("DELETE", "/api/v1/modeldeployments/default/iris", (200, DEPLOYMENT))
    api.on(
        "DELETE", "/api/v1/nodepools/gpu", (404, {"error": "nodepool gpu not found", "reason": "NotFound"})
    )
    result = run(delete, api, "md", "iris", "-n", "staging")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'modeldeployment.modelplane.dev "iris" deleted\n'
    (tmp_path / "a.yaml").write_text(GOOD)
    result = run(delete, api, "-f", str(tmp_path / "a.yaml"))
    assert result.exit_code == 1
    assert result.stdout == 'modeldeployment.modelplane.dev "iris" deleted\n'
    assert result.stderr.strip() == "Error: nodepool gpu not found."
    result = run(delete, api, "-f", str(tmp_path / "a.yaml"), "--ignore-not-found")
    assert result.exit_code == 0


def test_scale(api: FakeApi) -> None:
    refusal = "ModelDeployment 'iris' (namespace default) is autoscaled between 1 and 4 replicas ..."
    api.on(
        "POST",
        "/api/v1/modeldeployments/default/iris/scale",
        [(200, DEPLOYMENT), (409, {"error": refusal, "reason": "Conflict"})],
    )
    result = run(scale, api, "iris", "--replicas", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout == "modeldeployment.modelplane.dev/iris scaled\n"
    assert json.loads(api.seen[0].body) == {"replicas": 3}
    result = run(scale, api, "md/iris", "--replicas", "0")  # autoscaled: the API refuses, the CLI says why
    assert result.exit_code == 1 and result.stdout == ""
    assert "is autoscaled between 1 and 4 replicas" in result.stderr
    assert run(scale, api, "np", "gpu", "--replicas", "1").exit_code == 2
    assert run(scale, api, "iris", "--replicas", "-1").exit_code == 2


@pytest.mark.parametrize("command", [apply, get, describe, delete, scale])
def test_help(command: Any) -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and "--server" in result.stdout


# --- end to end ---------------------------------------------------------------------------------

SIMULATED = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: echo}
spec:
  model: {format: simulated, params: {latencyMs: 1}}
  replicas: 1
"""


def modelplane(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelplane.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def poll(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(
    not importlib.util.find_spec("modelplane.local"),
    reason="the control plane (modelplane.api) is not built yet",
)
def test_end_to_end_against_a_real_control_plane(tmp_path: Path) -> None:
    state = tmp_path / "state"
    spec = tmp_path / "echo.yaml"
    spec.write_text(SIMULATED)
    up = modelplane("up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0")
    assert up.returncode == 0, up.stdout + up.stderr
    server = ["--server", json.loads((state / "up.json").read_text())["api"]]
    try:
        applied = modelplane("apply", "-f", str(spec), *server)
        assert applied.stdout.strip() == "modeldeployment.modelplane.dev/echo created", applied.stderr
        assert modelplane("apply", "-f", str(spec), *server).stdout.strip().endswith("echo unchanged")

        def ready() -> bool:
            got = modelplane("get", "md", "echo", "-o", "json", *server)
            return got.returncode == 0 and json.loads(got.stdout).get("status", {}).get("readyReplicas") == 1

        poll(ready, timeout=60, what="deployment echo to have 1 ready replica")
        replicas = json.loads(modelplane("get", "replicas", "-o", "json", *server).stdout)["items"]
        assert len(replicas) == 1 and replicas[0]["status"]["phase"] == "Running"
        table = modelplane("get", "replicas", *server).stdout
        assert "Running" in table and "1/1" in table
        described = modelplane("describe", "md", "echo", *server).stdout
        assert "simulated" in described and replicas[0]["metadata"]["name"] in described
        assert modelplane("logs", "echo", *server).returncode == 0
        assert modelplane("scale", "echo", "--replicas", "2", *server).returncode == 0
        poll(
            lambda: len(json.loads(modelplane("get", "rep", "-o", "json", *server).stdout)["items"]) == 2,
            timeout=60,
            what="a second replica",
        )
        assert modelplane("events", *server).returncode == 0
        assert modelplane("top", *server).returncode == 0
        deleted = modelplane("delete", "-f", str(spec), *server)
        assert deleted.stdout.strip() == 'modeldeployment.modelplane.dev "echo" deleted'
    finally:
        modelplane("down", "--state-dir", str(state), timeout=120)
