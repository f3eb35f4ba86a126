"""From a ModelDeployment (the spec) to what the model server loads: uris resolved, batching set.

Relative paths in `spec.model.uri` are resolved from the folder of the spec file, like kubectl
resolves `-f` paths; `~` is expanded; URIs with a scheme are passed on for the loader to refuse.
"""

from __future__ import annotations

from pathlib import Path

from modelplane.server.app import ModelConfig
from modelplane.server.model import LoadRequest
from modelplane.spec import ModelDeployment, ModelFormat


def resolve_uri(uri: str | None, *, format: ModelFormat, base_dir: Path) -> str | None:
    if uri is None or "://" in uri:
        return uri
    if format is ModelFormat.PYTHON:
        target, sep, attribute = uri.rpartition(":")
        if not sep or not (target.endswith(".py") or "/" in target):
            return uri  # package.module:Class
        return f"{_absolute(target, base_dir)}:{attribute}"
    return str(_absolute(uri, base_dir))


def _absolute(path: str, base_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base_dir / candidate).resolve()


def model_config(deployment: ModelDeployment, *, base_dir: Path) -> ModelConfig:
    spec = deployment.spec
    batching = spec.batching
    return ModelConfig(
        load=LoadRequest(
            name=deployment.metadata.name,
            format=str(spec.model.format),
            uri=resolve_uri(spec.model.uri, format=spec.model.format, base_dir=base_dir),
            version=spec.model.version,
            params=dict(spec.model.params or {}),
            base_dir=base_dir,
            max_batch_size=batching.max_batch_size if batching is not None else 1,
        ),
        batching=batching is not None,
        max_batch_size=batching.max_batch_size if batching is not None else 1,
        max_latency_ms=float(batching.max_latency_ms) if batching is not None else 0.0,
    )
