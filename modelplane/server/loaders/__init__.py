"""Model loaders: `load_model(request)` turns what `spec.model` says into a `Model`.

Each format lives in its own module, imported only when a model of that format is loaded, so the heavy
libraries (onnxruntime, skops, torch, sentence-transformers) stay optional extras. Every failure,
whatever the format, is a `ModelLoadError` whose message names the model and says what to do.

Only local paths are loaded: pickle-based formats execute code when read, so a remote location
(`s3://`, `http://`, ...) is refused for every format rather than fetched.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import cast

from modelplane.server.errors import ModelLoadError
from modelplane.server.loaders._errors import describe, load_error
from modelplane.server.model import Loader, LoadRequest, Model

__all__ = ["FORMATS", "load_model"]

# spec.model.format → the module of this package that loads it.
FORMATS: Mapping[str, str] = {
    "sklearn": "sklearn",
    "onnx": "onnx",
    "torch": "torch",
    "sentence-transformers": "sentence_transformers",
    "python": "python",
    "simulated": "simulated",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def load_model(request: LoadRequest) -> Model:
    """Load the model `request` describes, or raise ModelLoadError."""
    module_name = FORMATS.get(request.format)
    if module_name is None:
        known = ", ".join(f"'{name}'" for name in FORMATS)
        raise load_error(
            request,
            f"unknown format '{request.format}'",
            f"Set spec.model.format to one of {known}.",
        )
    if request.format != "simulated" and request.uri and _SCHEME.match(request.uri):
        raise load_error(
            request,
            "only local paths are supported; pickle-based files are never loaded from remote locations",
            "Copy the model to a local path and point spec.model.uri at it.",
        )
    module = importlib.import_module(f"{__name__}.{module_name}")
    loader = cast(Loader, module.load)
    try:
        return loader(request)
    except ModelLoadError:
        raise
    except Exception as exc:  # a library failed in a way its loader did not foresee
        raise load_error(
            request,
            f"the {request.format} loader failed ({describe(exc)})",
            f"Check that spec.model.uri points to a valid {request.format} model.",
        ) from exc
