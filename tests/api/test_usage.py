"""`GET /api/v1/usage` serves the node agent's readings (not the store): by namespace then name,
filtered by `?namespace=`, GET only, behind the same checks as every other route."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from modelplane.api.routes import Hub
from modelplane.api.usage import UsageApi
from modelplane.net.errors import MethodNotAllowed
from modelplane.net.http import Request
from modelplane.spec.replica import ReplicaUsage
from modelplane.store import Store

READINGS = {
    ("team", "b"): ReplicaUsage(cpu_millis=5, memory_bytes=10, measured_at=3.0),
    ("default", "a"): ReplicaUsage(cpu_millis=None, memory_bytes=20, measured_at=2.0),
}


def _get(api: UsageApi, query: str = "", method: str = "GET") -> object:
    answer = api(Request(method, "/api/v1/usage", query, b"", None, {b"host": b"127.0.0.1"}))
    return orjson.loads(answer.body)  # type: ignore[union-attr]


def test_usage_is_served_from_the_readings(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    api = UsageApi(
        store,
        hub=Hub(),
        state_dir=tmp_path / "state",
        token=None,
        on_down=lambda: None,
        readings=lambda: READINGS,
    )
    assert _get(api) == {
        "items": [
            {"namespace": "default", "name": "a", "cpuMillis": None, "memoryBytes": 20, "measuredAt": 2.0},
            {"namespace": "team", "name": "b", "cpuMillis": 5, "memoryBytes": 10, "measuredAt": 3.0},
        ]
    }
    assert _get(api, "namespace=team") == {
        "items": [{"namespace": "team", "name": "b", "cpuMillis": 5, "memoryBytes": 10, "measuredAt": 3.0}]
    }
    with pytest.raises(MethodNotAllowed):
        _get(api, method="POST")
    assert orjson.loads(api.list("Replica", {}).body)["items"] == []  # every other route is the Api's
