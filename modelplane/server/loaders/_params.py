"""Reading `spec.model.params` and the model's path: checked once at load time, so that a bad value
fails the load with a sentence naming the parameter instead of failing the first request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelplane.server.loaders._errors import load_error
from modelplane.server.model import Datatype, LoadRequest, TensorSpec


def model_path(request: LoadRequest, *, expected: str) -> Path:
    """The existing local file or directory `request.uri` names. `expected` says what it should be."""
    if not request.uri:
        raise load_error(
            request,
            f"format '{request.format}' needs spec.model.uri, {expected}",
            "Set spec.model.uri.",
        )
    path = Path(request.uri)
    if not path.exists():
        raise load_error(request, "file not found", "Check spec.model.uri.")
    return path


def threads(request: LoadRequest, *, default: int = 1) -> int:
    """`params.threads`: the CPU threads one model call may use (one per replica keeps replicas apart)."""
    value = request.params.get("threads", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise load_error(
            request,
            f"spec.model.params.threads must be a positive integer, got {value!r}",
            "Fix spec.model.params.threads.",
        )
    return value


def flag(request: LoadRequest, key: str, *, default: bool) -> bool:
    value = request.params.get(key, default)
    if not isinstance(value, bool):
        raise load_error(
            request,
            f"spec.model.params.{key} must be true or false, got {value!r}",
            f"Fix spec.model.params.{key}.",
        )
    return value


def tensor_specs(value: Any, *, where: str) -> tuple[TensorSpec, ...]:
    """Parse a list of `{name, datatype, shape}` mappings (or TensorSpecs). Raises ValueError naming
    `where` (e.g. `spec.model.params.inputs`) and the offending entry."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{where} must be a list of {{name, datatype, shape}}, got {value!r}")
    specs = tuple(_tensor_spec(entry, where=f"{where}[{i}]") for i, entry in enumerate(value))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"{where} repeats a name: {names}")
    return specs


def _tensor_spec(entry: Any, *, where: str) -> TensorSpec:
    if isinstance(entry, TensorSpec):
        return entry
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a mapping with name, datatype and shape, got {entry!r}")
    name, datatype, shape = entry.get("name"), entry.get("datatype"), entry.get("shape")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name must be a non-empty string, got {name!r}")
    if datatype not in set(Datatype):
        known = ", ".join(Datatype)
        raise ValueError(f"{where}.datatype must be one of {known}, got {datatype!r}")
    if (
        isinstance(shape, (str, bytes))
        or not isinstance(shape, Sequence)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1 and d != 0 for d in shape)
    ):
        raise ValueError(
            f"{where}.shape must be a non-empty list of positive sizes or -1 (variable), got {shape!r}"
        )
    return TensorSpec(name=name, datatype=Datatype(datatype), shape=tuple(shape))


def specs_param(request: LoadRequest, key: str, default: tuple[TensorSpec, ...]) -> tuple[TensorSpec, ...]:
    """`params.<key>` as tensor specs, or `default` when absent."""
    value = request.params.get(key)
    if value is None:
        return default
    try:
        return tensor_specs(value, where=f"spec.model.params.{key}")
    except ValueError as exc:
        raise load_error(request, str(exc), f"Fix spec.model.params.{key}.") from exc
