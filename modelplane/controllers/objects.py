"""Typed views of stored objects: the store keeps camelCase JSON, the loops work on spec types."""

from __future__ import annotations

from typing import Any

from modelplane.spec import API_VERSION, NodePool
from modelplane.store import StoredObject


def nodepool_of(stored: StoredObject) -> NodePool:
    return NodePool.model_validate(
        {"apiVersion": API_VERSION, "kind": "NodePool", "metadata": _metadata(stored), "spec": stored.spec}
    )


def _metadata(stored: StoredObject) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": stored.name, "labels": stored.labels}
    return meta


def dump(model: Any) -> dict[str, Any]:
    """A spec model as the store keeps it (camelCase JSON)."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return data
