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
    assert detail.startswith("bomb.yaml:1: YAML aliases expand this document")
    assert call(api, "GET", "/api/v1/modeldeployments") == (200, {"items": [], "resourceVersion": 0})
