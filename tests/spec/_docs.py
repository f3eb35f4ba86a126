"""Helpers to build spec documents and read back the errors a user would see."""

from __future__ import annotations

from typing import Any

import yaml

from modelplane.spec import LoadResult, SpecError, load_text

API = "modelplane.dev/v1alpha1"


def deployment(spec: dict[str, Any] | None = None, *, name: str = "iris", **metadata: Any) -> dict[str, Any]:
    """A ModelDeployment document; `spec` is merged over a minimal valid one."""
    base: dict[str, Any] = {"model": {"format": "sklearn", "uri": "./models/iris"}}
    return {
        "apiVersion": API,
        "kind": "ModelDeployment",
        "metadata": {"name": name, **metadata},
        "spec": {**base, **(spec or {})},
    }


def load_docs(*docs: dict[str, Any]) -> LoadResult:
    return load_text(yaml.safe_dump_all(docs, sort_keys=False), file="test.yaml")


def errors_of(*docs: dict[str, Any]) -> list[SpecError]:
    result = load_docs(*docs)
    assert not result.objects or result.errors, "expected errors, got none"
    return result.errors


def only_error(*docs: dict[str, Any]) -> SpecError:
    errors = errors_of(*docs)
    assert len(errors) == 1, "\n".join(str(error) for error in errors)
    return errors[0]


def valid(doc: dict[str, Any]) -> Any:
    result = load_docs(doc)
    assert result.ok, "\n".join(str(error) for error in result.errors)
    (loaded,) = result.objects
    return loaded.obj
