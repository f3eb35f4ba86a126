"""The recommendations answer from a real store (no processes): which deployments, their namespace's
defaults as their current resources, the window, and NotFound for an unknown name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelplane.api.recommendations import recommendations_for
from modelplane.store import NotFound, Store

Mi = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state") as opened:
        for namespace, name, resources in [
            ("default", "iris", {"limits": {"cpu": "2", "memory": "2Gi"}}),
            ("staging", "iris", {}),
            ("staging", "sentiment", {}),
        ]:
            spec = {"model": {"format": "simulated"}, "resources": resources}
            opened.apply("ModelDeployment", namespace, name, labels={}, spec=spec, now=0)
        defaults = {"defaults": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
        opened.apply("Namespace", "", "staging", labels={}, spec=defaults, now=0)
        for at in range(0, 100, 5):
            opened.record_usage(
                namespace="default",
                deployment="iris",
                replica="iris-a",
                cpu_millis=at,
                memory_bytes=100 * Mi,
                now=at,
            )
        yield opened


def answer(store: Store, **kw: Any) -> list[dict[str, Any]]:
    query = {"namespace": None, "deployment": None, "window_s": None, **kw}
    items: list[dict[str, Any]] = recommendations_for(store, now=100, **query)["items"]
    return items


def current(item: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {r["resource"]: (r["request"], r["limit"]) for r in item["resources"]}


def test_every_deployment_or_one_namespace_or_one_name(store: Store) -> None:
    assert [(i["namespace"], i["deployment"]) for i in answer(store)] == [
        ("default", "iris"),
        ("staging", "iris"),
        ("staging", "sentiment"),
    ]
    assert [i["deployment"] for i in answer(store, namespace="staging")] == ["iris", "sentiment"]
    assert [i["namespace"] for i in answer(store, deployment="iris")] == ["default", "staging"]
    [only] = answer(store, namespace="default", deployment="iris")
    assert only["samples"] == 20 and only["resources"][0]["verdict"] == "over-provisioned"


def test_the_namespace_defaults_are_the_current_resources_where_the_spec_sets_none(store: Store) -> None:
    [staged] = answer(store, namespace="staging", deployment="sentiment")
    assert current(staged) == {"cpu": ("500m", "1"), "memory": ("1Gi", "1Gi")}
    assert staged["proposed"] is None and staged["samples"] == 0


def test_the_window_keeps_only_recent_samples(store: Store) -> None:
    [recent] = answer(store, namespace="default", deployment="iris", window_s=20)
    assert recent["samples"] == 4 and recent["windowSeconds"] == 15


def test_an_unknown_deployment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        answer(store, namespace="default", deployment="nope")
    with pytest.raises(NotFound):
        answer(store, deployment="nope")
