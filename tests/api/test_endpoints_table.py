"""The endpoints table the router follows: who serves, with which weights, and how many replicas a
deployment wants (0 tells the router to answer at once rather than hold requests for a replica)."""

from __future__ import annotations

from typing import Any

from modelplane.api.endpoints import endpoints_table
from modelplane.store import StoredObject


def stored(
    kind: str, name: str, spec: dict[str, Any], status: dict[str, Any] | None = None, **kw: Any
) -> StoredObject:
    return StoredObject(
        kind=kind, namespace="default", name=name, uid=name, generation=1, resource_version=1, labels={},
        spec=spec, status=status or {}, created=0.0, updated=0.0, deletion_timestamp=kw.get("deleted"),
    )  # fmt: skip


def replica(name: str, version: str, *, ready: bool = True, port: int = 20001) -> StoredObject:
    spec = {"deployment": "iris", "version": version, "port": port}
    return stored("Replica", name, spec, {"pid": 42, "ready": ready, "phase": "Running"})


def table(deployment: StoredObject, *replicas: StoredObject) -> dict[str, Any]:
    (entry,) = endpoints_table([deployment], list(replicas), rv=7)["deployments"]
    return dict(entry)


def test_without_a_split_every_live_version_serves_in_proportion_to_its_replicas() -> None:
    iris = stored("ModelDeployment", "iris", {"model": {"version": "v2"}, "replicas": 3})
    entry = table(iris, replica("a", "v1"), replica("b", "v2"), replica("c", "v2", ready=False, port=20002))
    assert entry["traffic"] == [{"version": "v1", "weight": 1}, {"version": "v2", "weight": 2}]
    assert [e["ready"] for e in entry["endpoints"]] == [True, True, False]
    assert entry["replicas"] == 3


def test_wanted_replicas_zero_when_scaled_to_zero_or_deleted_unknown_under_autoscaling() -> None:
    assert table(stored("ModelDeployment", "iris", {"model": {}, "replicas": 0}))["replicas"] == 0
    assert table(stored("ModelDeployment", "iris", {"model": {}}, deleted=5.0))["replicas"] == 0
    autoscaled = {"model": {}, "replicas": 0, "autoscaling": {"minReplicas": 0, "maxReplicas": 3}}
    assert table(stored("ModelDeployment", "iris", autoscaled))["replicas"] is None
