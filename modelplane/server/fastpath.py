"""The common infer request in one pass: decode and encode without the general path's layers.

Nearly every OIP v2 infer request a model server sees has one shape: the model's declared inputs, in
order, each of the declared datatype and shape, with numeric `data`; outputs named (or not); no
`parameters`. `CommonRequest.decode` reads such a body straight into the model's input arrays, and
`CommonRequest.encode` writes a numeric answer in one step. Anything else — and every error — makes
them return None, and the server runs the general path (server/app.py, server/tensors.py) from the
start: both are pure, so the general path answers exactly as if the fast one had not been tried,
errors and their messages included. What each accepts is a subset of what the general path accepts,
and for it they compute the same arrays and the same bytes (tests/server/test_fastpath.py compares
both on a table of bodies and on random ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from modelplane.server.model import NUMPY_DTYPES, Array, Datatype, TensorSpec

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# what numpy infers from JSON numbers that the general path takes as is (tensors.to_array), by datatype;
# numpy's built-in dtypes are singletons, so `is` compares them (an equal dtype that is not the same
# object only sends a request to the general path)
_AS_IS = {Datatype.FP64: NUMPY_DTYPES[Datatype.FP64], Datatype.INT64: NUMPY_DTYPES[Datatype.INT64]}
# numeric answers written as numpy arrays (not FP16, sent as FP32; not BYTES): dtype -> (wire name,
# the fewest bytes an element takes in JSON, as tensors.encoded_size_floor)
_FLOOR_BYTES = {"f": 4, "i": 2, "u": 2, "b": 5}
_ENCODED = {
    dtype: (datatype.value, _FLOOR_BYTES[dtype.kind])
    for datatype, dtype in NUMPY_DTYPES.items()
    if datatype not in (Datatype.BYTES, Datatype.FP16)
}
_SCALARS = (str, int, float, bool, type(None))  # an `id` the general path needs not walk

Decoded = tuple[dict[str, Array], list[str], Any]  # (inputs, requested outputs, request id)


class CommonRequest:
    """The fast path for one model: built once its inputs and outputs are known."""

    __slots__ = ("_head", "_inputs", "_outputs")

    def __init__(
        self, *, name: str, version: str | None, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
    ) -> None:
        self._inputs = [
            (spec.name, spec.datatype.value, _AS_IS[spec.datatype], spec.shape)
            for spec in inputs
            if spec.datatype in _AS_IS
        ]
        if len(self._inputs) != len(inputs) or not inputs:
            self._inputs = []  # an input the general path casts or checks more: never fast
        self._outputs = frozenset(spec.name for spec in outputs)
        self._head: dict[str, Any] = {"model_name": name}
        if version:
            self._head["model_version"] = version

    def decode(self, body: bytes) -> Decoded | None:
        """The inputs, requested outputs and id of a common request; None for any other body."""
        if not self._inputs:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(payload) is not dict:
            return None
        request_id = payload.get("id")
        if type(request_id) not in _SCALARS or type(payload.get("parameters")) in (dict, list):
            return None
        raw = payload.get("inputs")
        if type(raw) is not list or len(raw) != len(self._inputs):
            return None
        arrays: dict[str, Array] = {}
        for obj, (name, datatype, as_is, want) in zip(raw, self._inputs, strict=True):
            if type(obj) is not dict or obj.get("name") != name or "parameters" in obj:
                return None
            shape, data = obj.get("shape"), obj.get("data")
            if obj.get("datatype") != datatype or type(shape) is not list or type(data) is not list:
                return None
            if len(shape) != len(want):
                return None
            size = 1
            for d, w in zip(shape, want, strict=True):
                if type(d) is not int or d < 0 or (d != w and w != -1):
                    return None
                size *= d
            try:
                array = np.asarray(data)
            except Exception:  # the general path says what is wrong
                return None
            if array.dtype is not as_is or array.size != size:
                return None
            arrays[name] = array.reshape(tuple(shape))
        raw = payload.get("outputs")
        requested: list[str] = []
        if raw is not None:
            if type(raw) is not list:
                return None
            for o in raw:  # named once each, among the model's outputs
                output = o.get("name") if type(o) is dict else None
                if type(output) is not str or output not in self._outputs or output in requested:
                    return None
                requested.append(output)
        return arrays, requested, request_id

    def encode(
        self, request_id: Any, outputs: Mapping[str, Array], requested: list[str], max_response: int
    ) -> bytes | None:
        """The answer's JSON for numeric outputs the model returned; None when the general path must
        write it (another dtype, an output missing, an answer over `max_response` bytes)."""
        floor = 0
        encoded: list[dict[str, Any]] = []
        for name in requested or outputs:
            array = outputs.get(name)
            if type(array) is not np.ndarray:
                return None
            found = _ENCODED.get(array.dtype)
            if found is None:
                return None
            wire, floor_bytes = found
            floor += array.size * floor_bytes
            data = np.ascontiguousarray(array.reshape(-1))
            encoded.append({"name": name, "datatype": wire, "shape": list(array.shape), "data": data})
        if floor > max_response:
            return None
        body = dict(self._head)
        if request_id is not None:
            body["id"] = request_id
        body["outputs"] = encoded
        answer = orjson.dumps(body, option=_DUMPS_OPTIONS)
        return answer if len(answer) <= max_response else None
