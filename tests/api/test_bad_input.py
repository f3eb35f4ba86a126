"""Bad input to the API answers 4xx with a sentence, stores nothing, and leaves every other request
working: YAML alias bombs, integers beyond what a field allows, query numbers out of range.

The handler runs in this process on a real SQLite store (no HTTP: the status and body are what the
server would send, through the same `render_error`); `test_end_to_end` sends the same through a real
control plane.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelplane.api import routes
from modelplane.api.routes import Api, Hub, render_error
from modelplane.net.errors import HttpError
from modelplane.net.http import Deferred, Request
from modelplane.store import Store
from tests.spec.test_yaml_limits import LAUGHS


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with Store(tmp_path / "state") as store:
        yield Api(store, hub=Hub(), state_dir=tmp_path / "state", token=None, on_down=lambda: None)


def call(api: Api, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    target, _, query = path.partition("?")
    request = Request(method, target, query, body, None, {b"host": b"127.0.0.1"})
    try:
        response = api(request)
    except HttpError as error:
        response = render_error(error)
    assert not isinstance(response, Deferred), "a bad request must be answered at once"
    return response.status, orjson.loads(response.body)


def test_a_billion_laughs_apply_is_refused_400_fast_and_stores_nothing(api: Api) -> None:
    started = time.monotonic()
    status, body = call(api, "POST", "/api/v1/apply?file=bomb.yaml", LAUGHS.encode())
    assert time.monotonic() - started < 1.0
    assert status == 400 and body["reason"] == "BadRequest", body
    assert "nothing was stored" in body["error"]
    (detail,) = body["details"]
    assert detail.startswith("bomb.yaml:1: ModelDeployment/bomb: YAML aliases expand this document")
    assert call(api, "GET", "/api/v1/modeldeployments") == (200, {"items": [], "resourceVersion": 0})


HUGE_GRACE = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: big}
spec:
  model: {format: simulated}
  terminationGracePeriodSeconds: 100000000000000000000000
"""


def test_an_integer_over_64_bits_is_refused_and_every_list_still_answers(api: Api) -> None:
    small = HUGE_GRACE.replace("name: big", "name: small").replace("100000000000000000000000", "5")
    assert call(api, "POST", "/api/v1/apply", small.encode())[0] == 200
    status, body = call(api, "POST", "/api/v1/apply?file=big.yaml", HUGE_GRACE.encode())
    assert status == 422 and body["reason"] == "Invalid", body
    (detail,) = body["details"]
    assert detail.startswith(
        "big.yaml:6: ModelDeployment/big: spec.terminationGracePeriodSeconds: must be ≤ 2,147,483,647"
    )
    status, body = call(api, "GET", "/api/v1/modeldeployments")
    assert status == 200 and [item["metadata"]["name"] for item in body["items"]] == ["small"]
    status, body = call(api, "GET", "/api/v1/watch?since=0&timeout=0")
    assert status == 200 and len(body["changes"]) == 1


def test_scale_beyond_the_replica_bound_is_refused(api: Api) -> None:
    status, _ = call(
        api, "POST", "/api/v1/apply", HUGE_GRACE.replace("100000000000000000000000", "5").encode()
    )
    assert status == 200
    for replicas in (10**30, 10_001, -1):
        status, body = call(
            api, "POST", "/api/v1/modeldeployments/default/big/scale", b'{"replicas": %d}' % replicas
        )
        assert status == 422 and "from 0 to 10,000" in body["error"], body
    status, body = call(api, "GET", "/api/v1/modeldeployments")
    assert status == 200 and body["items"][0]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/watch?since=9223372036854775808",  # one past int64
        "/api/v1/watch?since=99999999999999999999999999",
        "/api/v1/watch?since=-5",
        "/api/v1/watch?since=abc",
        "/api/v1/watch?since=1e5",
        "/api/v1/watch?since=1_000",
        "/api/v1/watch?timeout=nan",
        "/api/v1/endpoints?since=18446744073709551616",
        "/api/v1/endpoints?timeout=soon",
        "/api/v1/recommendations?window=0",
        "/api/v1/recommendations?window=" + "9" * 5000,
        "/api/v1/logs/default/r1?offset=-100",
        "/api/v1/logs/default/r1?offset=9223372036854775808",
        "/api/v1/logs/default/r1?tail=-1",
        "/api/v1/logs/default/r1?tail=x",
    ],
)
def test_bad_query_numbers_answer_400_with_a_sentence(api: Api, query: str) -> None:
    replica = {"deployment": "d", "port": 1}
    api.store.apply("Replica", "default", "r1", labels={}, spec=replica, last_applied=None, now=0.0)
    log = routes.log_path(api.state_dir, "default", "r1")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("one\ntwo\n")
    status, body = call(api, "GET", query)
    assert status == 400 and body["reason"] == "BadRequest", body
    key = query.rsplit("?", 1)[1].split("=")[0]
    assert body["error"].startswith(f"query parameter {key} must be a"), body


def test_good_query_numbers_still_work(api: Api) -> None:
    api.store.apply("Replica", "default", "r1", labels={}, spec={"port": 1}, last_applied=None, now=0.0)
    log = routes.log_path(api.state_dir, "default", "r1")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("one\ntwo\n")
    assert call(api, "GET", "/api/v1/logs/default/r1?offset=4") == (200, {"text": "two\n", "offset": 8})
    assert call(api, "GET", "/api/v1/logs/default/r1?tail=1") == (200, {"text": "two\n", "offset": 8})
    status, body = call(api, "GET", "/api/v1/watch?since=0&timeout=0")
    assert status == 200 and body["resourceVersion"] == 1


def test_a_relative_model_uri_leaving_the_applied_folder_is_refused(api: Api, tmp_path: Path) -> None:
    escaping = HUGE_GRACE.replace("{format: simulated}", '{format: sklearn, uri: "../../etc/passwd"}')
    query = f"/api/v1/apply?file=app/spec.yaml&baseDir={tmp_path / 'app'}"
    status, body = call(api, "POST", query, escaping.replace("100000000000000000000000", "5").encode())
    assert status == 422, body
    (detail,) = body["details"]
    assert detail.startswith(
        "app/spec.yaml:5: ModelDeployment/big: spec.model.uri: '../../etc/passwd' leaves"
    )
    assert "write its absolute path" in detail
    assert call(api, "GET", "/api/v1/modeldeployments") == (200, {"items": [], "resourceVersion": 0})
