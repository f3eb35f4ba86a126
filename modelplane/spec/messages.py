"""Turns pydantic's validation errors into sentences a user can act on.

Pure functions: an error (its type, location, input, context) plus the model class it came from go
in; a message comes out. The loader adds the file, line, object and field path around it.
Invariant: messages name fields by their YAML (camelCase) names and say what to write instead.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from modelplane.spec.bounds import REASONS

_EXAMPLES = {
    "metadata": "metadata: {name: sentiment}",
    "name": "name: sentiment",
    "spec": "spec: {...}",
    "model": "model: {format: sklearn, uri: ./models/sentiment}",
    "format": "format: sklearn",
    "maxReplicas": "maxReplicas: 5",
    "steps": "steps: [{weight: 10, pause: 30s}, {weight: 50, pause: 1m}]",
    "weight": "weight: 10",
    "version": "version: v2",
    "command": "command: [python, train.py]",
    "capacity": 'capacity: {cpu: "8", memory: 32Gi, gpu: 1}',
    "effect": "effect: NoSchedule",
    "key": "key: nvidia.com/gpu",
    "target": "target: 4",
    "type": "type: concurrency",
    "value": "value: 4",
    "periodSeconds": "periodSeconds: 15",
}


_SIGNS = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}


def show(value: object) -> str:
    """How a YAML value reads back to its author."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _strip(annotation: Any) -> Any:
    """The annotation without Annotated[...] and without `| None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _union_member(annotation: Any, tag: str | int) -> Any:
    for member in get_args(annotation):
        if _is_model(member):
            literal = member.model_fields.get("type")
            literal_values = get_args(literal.annotation) if literal is not None else ()
            if literal is not None and get_origin(literal.annotation) is Literal and tag in literal_values:
                return member
    return None


def _annotation_at(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    annotation: Any = root
    for element in loc:
        annotation = _strip(annotation)
        origin = get_origin(annotation)
        if _is_model(annotation):
            annotation = _field_annotation(annotation, str(element))
        elif origin is list and isinstance(element, int):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        elif origin in (Union, types.UnionType):
            annotation = _union_member(annotation, element)
        else:
            return None
        if annotation is None:
            return None
    return _strip(annotation)


def yaml_path(root: type[BaseModel], loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """`loc` without the union tags pydantic inserts (`metrics.0.cpu.target` → `metrics.0.target`)."""
    annotation: Any = root
    path: list[str | int] = []
    for element in loc:
        annotation = _strip(annotation) if annotation is not None else None
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            member = _union_member(annotation, element)
            if member is not None:
                annotation = member
                continue
        path.append(element)
        if _is_model(annotation):
            annotation = _field_annotation(annotation, str(element))
        elif origin in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            annotation = None
    return tuple(path)


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class found at `loc` (a pydantic error location) under `root`, if any."""
    annotation = _annotation_at(root, loc)
    return annotation if _is_model(annotation) else None


def union_tags(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The `type` values accepted by the discriminated union at `loc`, if there is one."""
    annotation = _annotation_at(root, loc)
    tags: list[str] = []
    for member in get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ():
        literal = member.model_fields.get("type") if _is_model(member) else None
        if literal is not None and get_origin(literal.annotation) is Literal:
            tags.extend(str(tag) for tag in get_args(literal.annotation))
    return tags


def field_names(model: type[BaseModel]) -> list[str]:
    """The YAML names of a model's fields, in declaration order."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    lowered = {choice.lower().replace("_", "").replace("-", ""): choice for choice in choices}
    exact = lowered.get(word.lower().replace("_", "").replace("-", ""))
    close = [exact] if exact else difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _unknown_field(field: str, parent: type[BaseModel] | None) -> str:
    if parent is None:
        return f"unknown field {field!r}; remove it."
    known = field_names(parent)
    hint = _did_you_mean(field, known)
    return f"unknown field {field!r}.{hint} Known fields here: {', '.join(known)}."


def _expected_values(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def explain(error: ErrorDetails, *, root: type[BaseModel], raw: str | None = None) -> str:
    """A user-facing message for one pydantic error; `raw` is the value's text in the YAML, if known."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx", {})
    value = error["input"]
    shown = raw if raw is not None and not isinstance(value, dict | list | str) else show(value)
    field = str(loc[-1]) if loc else "document"
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError):
        return str(ctx["error"])
    if kind == "missing":
        example = _EXAMPLES.get(field)
        return "required field is missing; add it" + (f", e.g. {example}." if example else ".")
    if kind == "extra_forbidden":
        return _unknown_field(field, model_at(root, loc[:-1]))
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number; got {shown}."
    if kind in ("float_type", "float_parsing"):
        return f"expected a number; got {shown}."
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false; got {shown}."
    if kind == "string_type":
        if isinstance(value, int | float | bool):
            text = raw if raw is not None else str(value)
            read_as = "true/false" if isinstance(value, bool) else "a number"
            return f'expected text; got {shown}, which YAML reads as {read_as}. Quote it: "{text}".'
        return f"expected text; got {shown}."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value pairs); got {shown}."
    if kind == "list_type":
        return f"expected a list, e.g. [a, b] or one '- item' per line; got {shown}."
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = _SIGNS[kind]
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # a float field's bound: 60,000, not 60,000.0
        if kind.startswith("less") and bound in REASONS:
            return f"must be {sign} {bound:,} ({REASONS[bound]}); got {shown}. Use a smaller number."
        return f"must be {sign} {bound}; got {shown}."
    if kind == "finite_number":
        return f"must be a finite number; got {shown}. Write a number such as 5."
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item(s); got {ctx.get('actual_length', 0)}."
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", ""))
        hint = _did_you_mean(str(value), _expected_values(expected)) if isinstance(value, str) else ""
        return f"must be {expected}; got {shown}.{hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "type")).strip("'")
        tags = union_tags(root, loc[:-1] if kind == "union_tag_invalid" else loc)
        choices = f"; use one of: {', '.join(tags)}" if tags else ""
        if kind == "union_tag_not_found":
            return f"missing {discriminator}{choices}."
        hint = _did_you_mean(str(ctx.get("tag")), tags)
        return f"unknown {discriminator} {ctx.get('tag')!r}{choices}.{hint}"
    return str(error["msg"])
