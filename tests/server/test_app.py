"""The model server over real HTTP: every OIP v2 endpoint, KServe v1, every error case, metrics,
batching across connections, and bad input never taking the server down."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess

MODEL_CODE = """
import numpy as np

class Echo:
    inputs = [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}]
    outputs = [{"name": "double", "datatype": "FP64", "shape": [-1, 2]},
               {"name": "total", "datatype": "FP64", "shape": [-1]}]

    def load(self):
        pass

    def predict(self, inputs):
        x = inputs["x"]
        if (x == 13).any():
            raise ValueError("unlucky number 13")
        return {"double": x * 2, "total": x.sum(axis=1)}


class Shout:
    inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    outputs = [{"name": "loud", "datatype": "BYTES", "shape": [-1]}]

    def predict(self, inputs):
        return {"loud": np.array([t.decode().upper() for t in inputs["text"]], dtype=object)}
"""

SPEC = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: echo}
spec:
  model: {uri: ./echo_model.py:Echo, format: python, version: v3}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: shout}
spec:
  model: {uri: ./echo_model.py:Shout, format: python}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, version: v1, params: {latencyMs: 40}}
  batching: {maxBatchSize: 8, maxLatencyMs: 5}
"""


def write_spec(folder: Path, spec: str = SPEC) -> Path:
    (folder / "echo_model.py").write_text(MODEL_CODE)
    path = folder / "models.yaml"
    path.write_text(textwrap.dedent(spec))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    spec = write_spec(tmp_path_factory.mktemp("serve"))
    proc = ServerProcess(spec, "--max-body-size", "100000", "--max-response-size", "60000")
    proc.wait_ready()
    yield proc
    assert proc.stop() == 0


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def echo_request(rows: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "x", "datatype": "FP64", "shape": [len(rows), 2], "data": rows}], **extra}


# health and metadata


def test_health_live_and_ready(server: ServerProcess) -> None:
    assert server.request("GET", "/v2/health/live") == (200, {"live": True})
    assert server.request("GET", "/v2/health/ready") == (200, {"ready": True})


def test_server_metadata_and_model_list(server: ServerProcess) -> None:
    status, body = server.request("GET", "/v2")
    assert status == 200 and body["name"] == "modelplane" and "version" in body
    assert server.request("GET", "/v2/models") == (200, {"models": ["echo", "shout", "accel"]})


@pytest.mark.parametrize("path", ["/v2/models/echo", "/v2/models/echo/versions/v3"])
def test_model_metadata_with_and_without_version(server: ServerProcess, path: str) -> None:
    status, body = server.request("GET", path)
    assert status == 200
    assert body["name"] == "echo" and body["versions"] == ["v3"] and body["platform"]
    assert body["inputs"] == [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}]
    assert [o["name"] for o in body["outputs"]] == ["double", "total"]


@pytest.mark.parametrize("path", ["/v2/models/echo/ready", "/v2/models/echo/versions/v3/ready"])
def test_model_ready_with_and_without_version(server: ServerProcess, path: str) -> None:
    assert server.request("GET", path) == (200, {"name": "echo", "ready": True})


# inference


def test_infer_echoes_id_and_returns_all_outputs(server: ServerProcess) -> None:
    status, body = server.request("POST", "/v2/models/echo/infer", echo_request([[1, 2], [3, 4]], id="req-7"))
    assert status == 200
    assert body["id"] == "req-7" and body["model_name"] == "echo" and body["model_version"] == "v3"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["double"] == {"name": "double", "datatype": "FP64", "shape": [2, 2], "data": [2, 4, 6, 8]}
    assert outputs["total"]["data"] == [3, 7]


def test_infer_with_version_path_and_outputs_filter(server: ServerProcess) -> None:
    request = echo_request([[1, 1]], outputs=[{"name": "total"}])
    status, body = server.request("POST", "/v2/models/echo/versions/v3/infer", request)
    assert status == 200
    assert [o["name"] for o in body["outputs"]] == ["total"]
    assert "id" not in body


def test_infer_accepts_flat_data(server: ServerProcess) -> None:
    request = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 2], "data": [1, 2, 3, 4]}]}
    status, body = server.request("POST", "/v2/models/echo/infer", request)
    assert status == 200 and body["outputs"][1]["data"] == [3, 7]


def test_infer_bytes_in_and_out(server: ServerProcess) -> None:
    request = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["hi", "héllo"]}]}
    status, body = server.request("POST", "/v2/models/shout/infer", request)
    assert status == 200
    assert body["outputs"] == [{"name": "loud", "datatype": "BYTES", "shape": [2], "data": ["HI", "HÉLLO"]}]


def test_kserve_v1_predict(server: ServerProcess) -> None:
    status, body = server.request("POST", "/v1/models/echo:predict", {"instances": [[1, 2], [5, 5]]})
    assert status == 200 and body == {"predictions": [[2, 4], [10, 10]]}
    assert server.request("POST", "/v1/models/shout:predict", {"instances": ["a"]}) == (
        200,
        {"predictions": ["A"]},
    )
    assert server.request("GET", "/v1/models/echo") == (200, {"name": "echo", "ready": True})


def test_simulated_accelerator_answers_row_sums(server: ServerProcess) -> None:
    request = {
        "inputs": [{"name": "input0", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]
    }
    status, body = server.request("POST", "/v2/models/accel/infer", request)
    assert status == 200 and body["outputs"][0]["data"] == [6, 15]


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(server: ServerProcess) -> None:
    def one(i: int) -> tuple[int, Any]:
        request = {"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [i, i]}]}
        return server.request("POST", "/v2/models/accel/infer", request)

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(64)))
    assert [status for status, _ in results] == [200] * 64
    assert [body["outputs"][0]["data"] for _, body in results] == [[2 * i] for i in range(64)]
    metrics = server.request("GET", "/metrics")[1]
    # 64 one-row requests in batches of at most 8: some batches held more than one request
    sizes = _histogram(metrics, "modelplane_server_batch_size", 'model="accel"')
    assert sizes["count"] < 64 + 2
    assert sizes["le=1.0"] < sizes["count"]
    assert sizes["le=8.0"] == sizes["count"]


def _histogram(text: str, name: str, selector: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name) and selector in line:
            value = float(line.rsplit(" ", 1)[1])
            if "_count" in line:
                out["count"] = value
            elif 'le="' in line:
                out["le=" + line.split('le="')[1].split('"')[0]] = value
    return out


# errors: each gets a clear body, the right status, and leaves the server healthy


ERRORS = [
    ("POST", "/v2/models/echo/infer", b"{not json", 400, "not valid JSON"),
    ("POST", "/v2/models/echo/infer", b"[1, 2]", 400, "must be a JSON object"),
    ("POST", "/v2/models/echo/infer", b"{}", 400, "'inputs' is required"),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(echo_request([[1, 2, 3]])).encode(),
        400,
        "holds 2 elements",
    ),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(
            {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]}
        ).encode(),
        400,
        r"takes shape \[-1, 2\]",
    ),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(
            {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1, 2], "data": ["a", "b"]}]}
        ).encode(),
        400,
        "takes FP64; got BYTES",
    ),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps({"inputs": [{"name": "z", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]}).encode(),
        400,
        "has no input 'z'; its inputs are: x",
    ),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(echo_request([[1, 2]], outputs=[{"name": "nope"}])).encode(),
        400,
        "has no output nope",
    ),
    ("POST", "/v2/models/echo/infer", json.dumps(echo_request([[13, 1]])).encode(), 500, "unlucky number 13"),
    (
        "POST",
        "/v2/models/nope/infer",
        json.dumps(echo_request([[1, 2]])).encode(),
        404,
        "known|serves: accel, echo",
    ),
    (
        "POST",
        "/v2/models/echo/versions/v9/infer",
        json.dumps(echo_request([[1, 2]])).encode(),
        404,
        "no version 'v9'",
    ),
    ("GET", "/v2/models/nope", None, 404, "model 'nope' not found"),
    ("GET", "/v2/models/echo/versions/v9/ready", None, 404, "no version 'v9'"),
    ("GET", "/v2/models/echo/infer", None, 405, "takes POST"),
    ("GET", "/nowhere", None, 404, "no route"),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "x",
                        "datatype": "FP64",
                        "shape": [1, 2],
                        "data": [1, 2],
                        "parameters": {"binary_data_size": 16},
                    }
                ]
            }
        ).encode(),
        501,
        "binary tensor data extension",
    ),
    ("POST", "/v2/models/echo/infer", b"[" + b"1," * 60000 + b"1]", 413, "exceeds the limit of 100000 bytes"),
    ("POST", "/v1/models/echo:predict", b'{"instances": []}', 400, "'instances' is required"),
    # an output named twice would be encoded twice: 0.5 MB of names made a 78 MB answer
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(echo_request([[1, 2]], outputs=[{"name": "double"}, {"name": "double"}])).encode(),
        400,
        "'outputs' names 'double' twice",
    ),
    *(
        (
            "POST",
            "/v2/models/echo/infer",
            json.dumps(echo_request([[1, 2]], outputs=outputs)).encode(),
            400,
            "'outputs' must be a list of objects with a 'name'",
        )
        for outputs in ("double", [{"nam": "double"}], [{"name": 1}], ["double"], {"name": "double"}, [None])
    ),
    # numpy arrays have at most 64 dimensions
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps({"inputs": [{"name": "x", "datatype": "FP64", "shape": [1] * 65, "data": [1]}]}).encode(),
        400,
        "input 'x': shape has 65 dimensions; at most 64",
    ),
    # orjson writes at most 254 levels: an id echoed back from deeper used to fail the answer with 500
    (
        "POST",
        "/v2/models/echo/infer",
        b'{"id": ' + b"[" * 300 + b"]" * 300 + b", " + json.dumps(echo_request([[1, 2]]))[1:].encode(),
        400,
        "'id' nests deeper than 32 levels",
    ),
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(echo_request([[1, 2]], parameters={"a": nested(40)})).encode(),
        400,
        "'parameters' nests deeper than 32 levels",
    ),
    # 1e6 is beyond FP16's largest value (65504): it used to become inf and reach the model
    (
        "POST",
        "/v2/models/echo/infer",
        json.dumps(
            {"inputs": [{"name": "x", "datatype": "FP16", "shape": [1, 2], "data": [1e6, 1]}]}
        ).encode(),
        400,
        r"input 'x': a value is out of range for FP16 \(largest magnitude 65504\)",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), ERRORS)
def test_errors_are_clear_and_leave_the_server_healthy(
    server: ServerProcess, method: str, path: str, body: bytes | None, status: int, message: str
) -> None:
    got_status, got = server.request(method, path, raw=body)
    assert got_status == status, got
    assert set(got) >= {"error"}
    import re

    assert re.search(message, got["error"]), got["error"]
    assert server.request("GET", "/v2/health/live")[0] == 200
    assert server.request("GET", "/v2/health/ready")[0] == 200
    assert server.request("POST", "/v2/models/echo/infer", echo_request([[1, 2]]))[0] == 200


def test_an_answer_over_the_response_limit_is_refused_and_a_smaller_one_served(server: ServerProcess) -> None:
    rows = [[0.1234567890123, 0.9876543210987]] * 2000  # 76 kB in, about 100 kB out
    status, body = server.request("POST", "/v2/models/echo/infer", echo_request(rows))
    assert status == 400, body
    assert "over this server's limit of 60000 bytes (--max-response-size)" in body["error"], body
    assert "send fewer rows or ask for fewer outputs" in body["error"]
    # far over the limit: refused from the arrays' sizes, before the answer is built
    many = [[0.0, 0.0]] * 8000
    status, body = server.request("POST", "/v2/models/echo/infer", echo_request(many))
    assert status == 400 and "would be at least 96000 bytes" in body["error"], body
    status, body = server.request("POST", "/v1/models/echo:predict", {"instances": rows})
    assert status == 400 and "--max-response-size" in body["error"], body
    status, body = server.request(
        "POST", "/v2/models/echo/infer", echo_request(rows[:1000], outputs=[{"name": "double"}])
    )
    assert status == 200 and len(body["outputs"][0]["data"]) == 2000


def send(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_requests_from_web_pages_are_refused(server: ServerProcess) -> None:
    # a page the user visits could make the browser POST here; browsers add Origin to such requests
    body = json.dumps(echo_request([[1, 2]])).encode()
    evil = {"Origin": "https://evil.example", "Content-Type": "application/json"}
    status, answer = send(server.port, "POST", "/v2/models/echo/infer", body, evil)
    assert status == 403 and "requests from web pages are refused" in answer["error"], answer
    assert "https://evil.example" in answer["error"]
    status, answer = send(server.port, "GET", "/v2/health/ready", None, {"Origin": "null"})
    assert status == 403, answer
    assert server.request("GET", "/v2/health/ready") == (200, {"ready": True})


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_declared_json_gets_415(server: ServerProcess, content_type: str) -> None:
    body = json.dumps(echo_request([[1, 2]])).encode()
    status, answer = send(server.port, "POST", "/v2/models/echo/infer", body, {"Content-Type": content_type})
    assert status == 415, answer
    assert f"Content-Type is '{content_type}', not JSON" in answer["error"]
    assert "Content-Type: application/json" in answer["error"]


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=utf-8", "application/vnd.oip+json"]
)
def test_json_bodies_with_or_without_a_content_type_are_served(
    server: ServerProcess, content_type: str | None
) -> None:
    body = json.dumps(echo_request([[1, 2]])).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    status, answer = send(server.port, "POST", "/v2/models/echo/infer", body, headers)
    assert status == 200 and answer["outputs"][0]["data"] == [2, 4], answer


def test_malformed_http_gets_400_and_server_stays_up(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
    assert server.request("GET", "/v2/health/ready")[0] == 200


def test_oversized_headers_get_431_and_server_stays_up(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70000 + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")
    assert server.request("GET", "/v2/health/ready")[0] == 200


def test_head_answers_carry_no_body_and_keep_alive_goes_on(server: ServerProcess) -> None:
    conn = server.connection()
    conn.request("HEAD", "/v2/health/live")
    head = conn.getresponse()
    assert head.read() == b"" and int(head.getheader("content-length")) > 0
    conn.request("GET", "/v2/health/live")
    assert json.loads(conn.getresponse().read()) == {"live": True}
    conn.close()


def test_a_client_that_half_closes_still_gets_its_answer(server: ServerProcess) -> None:
    body = json.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v2/models/accel/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body.encode())
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"data":[3.0]' in answer


def test_a_refusal_behind_a_pending_answer_keeps_both_in_order(server: ServerProcess) -> None:
    body = json.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
    slow = (
        b"POST /v2/models/accel/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body.encode())
    )
    too_big = b"POST /v2/models/echo/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(slow + too_big)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    first, second = answer.split(b"HTTP/1.1 ")[1:3]
    assert first.startswith(b"200") and second.startswith(b"413")


def test_numbers_that_do_not_fit_the_models_type_are_refused(server: ServerProcess) -> None:
    request = {"inputs": [{"name": "x", "datatype": "BOOL", "shape": [1, 2], "data": [True, False]}]}
    status, body = server.request("POST", "/v2/models/echo/infer", request)
    assert status == 400 and "BOOL sent to a FP64 input" in body["error"]


def test_metrics_count_requests_by_model_version_and_status(server: ServerProcess) -> None:
    server.request("POST", "/v2/models/echo/infer", echo_request([[1, 2]]))
    server.request("POST", "/v2/models/echo/infer", echo_request([[13, 2]]))
    status, text = server.request("GET", "/metrics")
    assert status == 200
    assert 'modelplane_server_requests_total{model="echo",status="200",version="v3"}' in text
    assert 'modelplane_server_requests_total{model="echo",status="500",version="v3"}' in text
    for family in (
        "modelplane_server_request_duration_seconds_bucket",
        "modelplane_server_queue_duration_seconds_bucket",
        "modelplane_server_batch_size_bucket",
        "modelplane_server_inflight_requests",
        "modelplane_server_model_load_seconds",
    ):
        assert family in text
