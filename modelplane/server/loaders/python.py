"""Custom models written in Python: `uri: path/to/file.py:ClassName` or `package.module:ClassName`.

The class is instantiated with `params` as keyword arguments (no arguments when there are none), then
its `load()` runs if it has one. `predict(inputs)` receives a dict of numpy arrays (the batch is the first
axis) and returns a dict of arrays, or one array, served as `output0`.

Metadata comes from the optional attributes `inputs` / `outputs` (lists of {name, datatype, shape} or
TensorSpec), read after `load()`. Without `inputs` the model declares none, meaning it takes whatever
inputs a request sends. Without `outputs` they are discovered: empty until the first batch, then the
names, datatypes and per-row shapes of what `predict` returned. Declared numeric outputs are cast to
their declared datatype.

An exception raised by the model's code while loading becomes a ModelLoadError with its type, message
and the file:line in the model's code where it was raised.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from modelplane.server.errors import ModelLoadError
from modelplane.server.loaders._errors import describe, load_error
from modelplane.server.loaders._params import tensor_specs
from modelplane.server.model import NUMPY_DTYPES, Array, Datatype, LoadRequest, Model, TensorSpec, datatype_of

T = TypeVar("T")

USAGE = "path/to/file.py:ClassName or package.module:ClassName"


class PythonModel:
    platform = "python_custom"

    def __init__(
        self, instance: Any, *, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec] | None
    ) -> None:
        self._instance = instance
        self._inputs = tuple(inputs)
        self._declared = None if outputs is None else {spec.name: spec for spec in outputs}
        self._discovered: tuple[TensorSpec, ...] = ()

    @property
    def inputs(self) -> Sequence[TensorSpec]:
        return self._inputs

    @property
    def outputs(self) -> Sequence[TensorSpec]:
        return self._discovered if self._declared is None else tuple(self._declared.values())

    def healthy(self) -> bool:
        """The class's own `healthy()` when it has one (a custom readiness check); True otherwise."""
        check = getattr(self._instance, "healthy", None)
        if not callable(check):
            return True
        try:
            return bool(check())
        except Exception:
            return False

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        result = self._instance.predict(dict(inputs))
        if isinstance(result, Mapping):
            arrays = {str(name): np.asarray(value) for name, value in result.items()}
        elif isinstance(result, (np.ndarray, list, tuple)):
            arrays = {"output0": np.asarray(result)}
        else:
            raise TypeError(
                f"predict returned {type(result).__name__}; return a dict of numpy arrays or one array"
            )
        rows = next((len(array) for array in inputs.values() if array.ndim), None)
        for name, array in arrays.items():
            if rows is not None and (array.ndim == 0 or len(array) != rows):
                got = "a scalar" if array.ndim == 0 else f"{len(array)} rows"
                raise ValueError(f"predict returned {got} for '{name}' but the batch has {rows} rows")
            arrays[name] = self._cast(name, array)
        if self._declared is None and not self._discovered:
            self._discovered = tuple(
                TensorSpec(name, datatype_of(array), (-1, *array.shape[1:])) for name, array in arrays.items()
            )
        return arrays

    def _cast(self, name: str, array: Array) -> Array:
        spec = (self._declared or {}).get(name)
        if spec is None or spec.datatype == Datatype.BYTES:
            return array
        return array.astype(NUMPY_DTYPES[spec.datatype], copy=False)


def load(request: LoadRequest) -> Model:
    target, _, class_name = (request.uri or "").rpartition(":")
    if not target or not class_name.isidentifier():
        raise load_error(
            request,
            f"format 'python' needs spec.model.uri of the form {USAGE}",
            "Set spec.model.uri.",
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = (request.base_dir / target).resolve()  # an absolute target stays as it is
        module, roots = _load_file(request, path), [str(path)]
        kind = "file"
    else:
        module, roots = _import_module(request, target)
        kind = "module"
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        defined = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and value.__module__ == module.__name__
        )
        raise load_error(
            request,
            f"the {kind} defines no class '{class_name}' (classes found: {', '.join(defined) or 'none'})",
            "Check the class name after ':' in spec.model.uri.",
        )
    instance: Any = _run_user_code(request, roots, lambda: cls(**request.params) if request.params else cls())
    if callable(getattr(instance, "load", None)):
        _run_user_code(request, roots, instance.load)
    if not callable(getattr(instance, "predict", None)):
        raise load_error(
            request,
            f"class '{class_name}' has no predict method",
            "Give it a method predict(self, inputs) returning a dict of numpy arrays.",
        )
    return PythonModel(
        instance,
        inputs=_specs(request, instance, class_name, "inputs") or (),
        outputs=_specs(request, instance, class_name, "outputs"),
    )


def _load_file(request: LoadRequest, path: Path) -> ModuleType:
    if not path.is_file():
        raise load_error(request, f"file not found: {path}", "Check the path before ':' in spec.model.uri.")
    module_name = "_modelplane_model_" + re.sub(r"\W", "_", request.name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise load_error(
            request, f"{path} cannot be imported as Python", "Point spec.model.uri at a .py file."
        )
    loader, module = spec.loader, importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up here
    try:
        _run_user_code(request, [str(path)], lambda: loader.exec_module(module))
    except ModelLoadError:
        sys.modules.pop(module_name, None)
        raise
    return module


def _import_module(request: LoadRequest, name: str) -> tuple[ModuleType, list[str]]:
    roots = _package_roots(name)
    try:
        return importlib.import_module(name), roots
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise load_error(
                request,
                f"no module named '{name}'",
                "Install the package that provides it, or put it on PYTHONPATH.",
            ) from exc
        raise _user_code_error(request, roots, exc) from exc
    except Exception as exc:
        raise _user_code_error(request, roots, exc) from exc


def _package_roots(name: str) -> list[str]:
    """Where a module's top-level package lives, to find the user's frames in a traceback."""
    try:
        spec = importlib.util.find_spec(name.split(".")[0])
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)
    return [spec.origin] if spec.origin else []


def _run_user_code(request: LoadRequest, roots: list[str], call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        raise _user_code_error(request, roots, exc) from exc


def _user_code_error(request: LoadRequest, roots: list[str], exc: BaseException) -> ModelLoadError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(tuple(roots))]
    where = f" at {frames[-1].filename}:{frames[-1].lineno} (in {frames[-1].name})" if frames else ""
    return load_error(
        request,
        f"the model's code raised {describe(exc)}{where}",
        "Fix the model's code or its spec.model.params.",
    )


def _specs(
    request: LoadRequest, instance: Any, class_name: str, attribute: str
) -> tuple[TensorSpec, ...] | None:
    value = getattr(instance, attribute, None)
    if value is None:
        return None
    try:
        return tensor_specs(value, where=f"{class_name}.{attribute}")
    except ValueError as exc:
        raise load_error(
            request, str(exc), f"Fix the '{attribute}' attribute of class '{class_name}'."
        ) from exc
