"""ONNX models, run by onnxruntime on the CPU.

Inputs and outputs are those of the graph, with its names; symbolic or unknown dimensions become -1.
Inputs are cast to the graph's element type. `params.threads` (default 1) bounds onnxruntime's
intra-op threads, so replicas on one machine do not fight over cores.

Classifiers converted by skl2onnx return probabilities as a list of {class: probability} maps
(ZipMap). Such an output is served as FP32 [-1, n_classes], columns in the maps' key order (the
classifier's class order). Any other non-tensor output (sequences, maps of other shapes) is left out of
the model's outputs, and the load logs why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelplane.server.loaders._convert import as_text
from modelplane.server.loaders._errors import describe, load_error, needs
from modelplane.server.loaders._params import model_path, threads
from modelplane.server.model import NUMPY_DTYPES, Array, Datatype, LoadRequest, Model, TensorSpec

log = logging.getLogger(__name__)

ELEMENT_TYPES: Mapping[str, Datatype] = {
    "tensor(bool)": Datatype.BOOL,
    "tensor(uint8)": Datatype.UINT8,
    "tensor(uint16)": Datatype.UINT16,
    "tensor(uint32)": Datatype.UINT32,
    "tensor(uint64)": Datatype.UINT64,
    "tensor(int8)": Datatype.INT8,
    "tensor(int16)": Datatype.INT16,
    "tensor(int32)": Datatype.INT32,
    "tensor(int64)": Datatype.INT64,
    "tensor(float16)": Datatype.FP16,
    "tensor(float)": Datatype.FP32,
    "tensor(double)": Datatype.FP64,
    "tensor(string)": Datatype.BYTES,
}
# seq(map(int64,tensor(float))): what skl2onnx's ZipMap makes of a classifier's probabilities.
_ZIPMAP = re.compile(r"^seq\(map\((int64|string),tensor\((float|double)\)\)\)$")


@dataclass(frozen=True)
class OnnxModel:
    session: Any
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    zipmaps: frozenset[str]
    platform: str = "onnx_onnxv1"

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        feeds = {spec.name: _feed(inputs[spec.name], spec.datatype) for spec in self.inputs}
        names = [spec.name for spec in self.outputs if spec.name in outputs]
        results = self.session.run(names, feeds)
        return {
            name: _zipmap_rows(value) if name in self.zipmaps else np.asarray(value)
            for name, value in zip(names, results, strict=True)
        }


def load(request: LoadRequest) -> Model:
    path = model_path(request, expected="a path to a .onnx file")
    if path.is_dir():
        path = _only_onnx_file(request, path)
    n_threads = threads(request)
    with needs(request, "onnxruntime", extra="onnx"):
        import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise load_error(
            request,
            f"onnxruntime could not load the file ({describe(exc)})",
            "Check that spec.model.uri points to a valid ONNX model.",
        ) from exc
    inputs = tuple(_input_spec(request, node) for node in session.get_inputs())
    outputs: list[TensorSpec] = []
    zipmaps: set[str] = set()
    for node in session.get_outputs():
        if node.type in ELEMENT_TYPES:
            outputs.append(TensorSpec(node.name, ELEMENT_TYPES[node.type], _shape(node.shape)))
        elif _ZIPMAP.match(node.type):
            outputs.append(TensorSpec(node.name, Datatype.FP32, (-1, -1)))
            zipmaps.add(node.name)
        else:
            log.warning(
                "model %r: output %r has type %s, which the Open Inference Protocol cannot carry; "
                "it is not served",
                request.name,
                node.name,
                node.type,
            )
    if not outputs:
        raise load_error(
            request,
            "none of the graph's outputs is a tensor the Open Inference Protocol can carry",
            "Export the model with tensor outputs.",
        )
    return OnnxModel(session=session, inputs=inputs, outputs=tuple(outputs), zipmaps=frozenset(zipmaps))


def _only_onnx_file(request: LoadRequest, directory: Path) -> Path:
    found = sorted(directory.glob("*.onnx"))
    if len(found) != 1:
        reason = (
            "the directory holds no .onnx file"
            if not found
            else f"the directory holds several .onnx files ({', '.join(p.name for p in found)})"
        )
        raise load_error(request, reason, "Point spec.model.uri at the .onnx file to serve.")
    return found[0]


def _input_spec(request: LoadRequest, node: Any) -> TensorSpec:
    datatype = ELEMENT_TYPES.get(node.type)
    if datatype is None:
        raise load_error(
            request,
            f"input '{node.name}' has type {node.type}, which the Open Inference Protocol cannot carry",
            "Export the model with inputs of a standard numeric, bool or string type.",
        )
    return TensorSpec(node.name, datatype, _shape(node.shape))


def _shape(dims: Sequence[Any] | None) -> tuple[int, ...]:
    """ONNX dims are ints, symbolic names or None; everything but a fixed size is -1."""
    return tuple(d if isinstance(d, int) and d > 0 else -1 for d in dims or ())


def _feed(array: Array, datatype: Datatype) -> Array:
    if datatype == Datatype.BYTES:  # onnxruntime wants str for tensor(string)
        return np.vectorize(as_text, otypes=[object])(array) if array.size else array.astype(object)
    return np.asarray(array, dtype=NUMPY_DTYPES[datatype])


def _zipmap_rows(rows: list[dict[Any, float]]) -> Array:
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    classes = list(rows[0])
    return np.array([[row[c] for c in classes] for row in rows], dtype=np.float32)
