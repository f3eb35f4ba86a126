"""JSON Schema for editors: one schema with a oneOf over the kinds, or one kind alone."""

from __future__ import annotations

import json

import pytest

from modelplane.spec import KINDS, json_schema
from modelplane.spec.schema import find_kind


def test_combined_schema_covers_every_kind() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert sorted(ref["$ref"].rsplit("/", 1)[1] for ref in schema["oneOf"]) == sorted(KINDS)
    assert schema["discriminator"]["propertyName"] == "kind"


def test_schema_uses_yaml_names_and_kubernetes_forms() -> None:
    defs = json_schema()["$defs"]
    spec = defs["ModelDeploymentSpec"]["properties"]
    assert "terminationGracePeriodSeconds" in spec and "disruptionBudget" in spec
    assert defs["ModelDeploymentSpec"]["additionalProperties"] is False
    rolling = defs["RollingUpdate"]["properties"]
    assert rolling["maxSurge"]["default"] == "25%"
    cpu = defs["ResourceList"]["properties"]["cpu"]
    assert any(option.get("type") == "string" for option in cpu["anyOf"][0]["anyOf"])


@pytest.mark.parametrize("kind", ["ModelDeployment", "modeldeployment", "Job", "NodePool", "namespace"])
def test_one_kind(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["title"] == find_kind(kind)
    assert "spec" in schema["properties"]


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="modelplane knows Namespace, NodePool, ModelDeployment, Job"):
        json_schema("Pod")
