"""JSON Schema of the spec objects, for editor completion and validation (YAML language servers).

The schema describes the YAML form (camelCase keys, quantities as strings or numbers). The combined
schema is a `oneOf` over the kinds, told apart by `kind`.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from modelplane.spec.kinds import KINDS, AnySpecObject

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def find_kind(name: str) -> str:
    """The kind spelled `name` (any case); a ValueError listing the kinds otherwise."""
    for kind in KINDS:
        if kind.lower() == name.lower():
            return kind
    raise ValueError(f"unknown kind {name!r}; modelplane knows {', '.join(KINDS)}.")


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one kind, or of any object (`oneOf` over the kinds) when `kind` is None."""
    if kind is not None:
        schema = KINDS[find_kind(kind)].model_json_schema(by_alias=True)
    else:
        schema = TypeAdapter(AnySpecObject).json_schema(by_alias=True)
        schema["title"] = "modelplane object"
        schema["description"] = "One document of a modelplane spec file (apiVersion modelplane.dev/v1alpha1)."
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}
