"""NodePool: capacity, labels and taints."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.spec import NodePool, TaintEffect
from tests.spec._docs import API, only_error, valid


def pool(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "NodePool", "metadata": {"name": "gpu"}, "spec": spec}


def test_design_example() -> None:
    spec = {
        "capacity": {"cpu": "8", "memory": "32Gi", "gpu": 1},
        "labels": {"accelerator": "nvidia"},
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
    }
    obj = valid(pool(spec))
    assert isinstance(obj, NodePool)
    assert obj.spec.capacity.memory_bytes == 32 * 2**30
    assert obj.spec.taints[0].effect is TaintEffect.NO_SCHEDULE
    assert obj.display_name == "NodePool/gpu"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({}, "spec.capacity"),
        ({"capacity": {"gpu": 0.5}}, "spec.capacity.gpu"),
        ({"capacity": {}, "taints": [{"key": "gpu"}]}, "spec.taints[0].effect"),
        ({"capacity": {}, "taints": [{"key": "bad key!", "effect": "NoSchedule"}]}, "spec.taints[0].key"),
        ({"capacity": {}, "labels": {"a/b/c": "x"}}, "spec.labels"),
    ],
)
def test_nodepool_validation(spec: dict[str, Any], path: str) -> None:
    assert only_error(pool(spec)).path == path
