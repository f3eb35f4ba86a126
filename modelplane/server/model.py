"""The contract between the model server and the loaders.

A loader turns a `LoadRequest` (what `spec.model` says, resolved against the spec file's folder) into a
`Model`. The server owns everything else: HTTP, decoding tensors, batching, metrics. A `Model` sees
only whole batches: every input array has the batch as its first axis, and every output it returns
must have the same first-axis length, row i answering input row i. `predict` is called one batch at
a time (a model is a single device stream), so a model need not be thread-safe: from the model's
worker thread, or, for a model whose calls take under a millisecond, from the event loop's thread
(server/batching.py). A model must not rely on being called from one particular thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


class Datatype(StrEnum):
    """Open Inference Protocol v2 tensor datatypes."""

    BOOL = "BOOL"
    UINT8 = "UINT8"
    UINT16 = "UINT16"
    UINT32 = "UINT32"
    UINT64 = "UINT64"
    INT8 = "INT8"
    INT16 = "INT16"
    INT32 = "INT32"
    INT64 = "INT64"
    FP16 = "FP16"
    FP32 = "FP32"
    FP64 = "FP64"
    BYTES = "BYTES"


NUMPY_DTYPES: Mapping[Datatype, np.dtype[Any]] = {
    Datatype.BOOL: np.dtype(np.bool_),
    Datatype.UINT8: np.dtype(np.uint8),
    Datatype.UINT16: np.dtype(np.uint16),
    Datatype.UINT32: np.dtype(np.uint32),
    Datatype.UINT64: np.dtype(np.uint64),
    Datatype.INT8: np.dtype(np.int8),
    Datatype.INT16: np.dtype(np.int16),
    Datatype.INT32: np.dtype(np.int32),
    Datatype.INT64: np.dtype(np.int64),
    Datatype.FP16: np.dtype(np.float16),
    Datatype.FP32: np.dtype(np.float32),
    Datatype.FP64: np.dtype(np.float64),
    Datatype.BYTES: np.dtype(object),
}


_DATATYPES: Mapping[np.dtype[Any], Datatype] = {
    dtype: datatype for datatype, dtype in NUMPY_DTYPES.items() if datatype is not Datatype.BYTES
}


def datatype_of(array: Array) -> Datatype:
    """The OIP datatype for a numpy array; strings and bytes (object or unicode arrays) are BYTES."""
    dtype = array.dtype
    if dtype.kind in ("O", "U", "S"):
        return Datatype.BYTES
    datatype = _DATATYPES.get(dtype)  # a dict lookup: this runs for every tensor of every request
    if datatype is None:
        raise TypeError(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")
    return datatype


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output. `shape` uses -1 for a variable dimension; the first is the batch."""

    name: str
    datatype: Datatype
    shape: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": str(self.datatype), "shape": list(self.shape)}


@dataclass(frozen=True)
class LoadRequest:
    """What a loader is asked to load. `uri` paths are already resolved against `base_dir`."""

    name: str
    format: str
    uri: str | None
    version: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = Path(".")
    max_batch_size: int = 1


class Model(Protocol):
    """A loaded model. See the module docstring for the batching contract."""

    @property
    def platform(self) -> str:
        """`<project>_<format>` as in OIP model metadata, e.g. `onnx_onnxv1`, `sklearn_joblib`."""
        ...

    @property
    def inputs(self) -> Sequence[TensorSpec]: ...

    @property
    def outputs(self) -> Sequence[TensorSpec]: ...

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        """Run one batch. `outputs` names the outputs some request in the batch asked for; empty
        means all of them. A model may return more, the server filters. Raise any exception to fail
        the batch: its message reaches the callers as a 500."""
        ...


class Loader(Protocol):
    def __call__(self, request: LoadRequest) -> Model: ...
