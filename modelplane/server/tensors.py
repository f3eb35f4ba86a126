"""Tensors on the wire: Open Inference Protocol v2 JSON <-> numpy, with the protocol's validation.

Pure functions, no I/O. `decode_input` turns one request input (`name`, `shape`, `datatype`, flat or
nested `data`) into a numpy array of the datatype's dtype and the declared shape, or raises
`InvalidInput` with a message that says what to fix. `encode_output` turns a model's array back into a
response output with flat row-major `data`. BYTES tensors are numpy object arrays of `bytes` inside the
server; on the wire they are JSON strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelplane.server.errors import InvalidInput, Unsupported
from modelplane.server.model import NUMPY_DTYPES, Array, Datatype, TensorSpec, datatype_of

_DATATYPES = {d.value: d for d in Datatype}
_WIRE_NAMES = {d: d.value for d in Datatype}
_INTEGER = frozenset(
    {
        Datatype.UINT8,
        Datatype.UINT16,
        Datatype.UINT32,
        Datatype.UINT64,
        Datatype.INT8,
        Datatype.INT16,
        Datatype.INT32,
        Datatype.INT64,
    }
)
_FLOAT = frozenset({Datatype.FP16, Datatype.FP32, Datatype.FP64})
_NARROW_FLOAT = frozenset({Datatype.FP16, Datatype.FP32})  # a JSON number can overflow them to inf
MAX_DIMS = 64  # numpy's limit (NPY_MAXDIMS)
MAX_NESTING = 32  # levels of arrays/objects in a request value the server echoes (orjson writes 254)
# The fewest bytes one element takes in a response's JSON `data`, separator included, by numpy kind:
# a float is at least "0.0," (FP16 is sent as FP32), an integer "0,", a bool "true,", a string '"",'.
_FLOOR_BYTES = {"f": 4, "i": 2, "u": 2, "b": 5}


def parse_datatype(value: object, *, where: str) -> Datatype:
    if not isinstance(value, str) or value not in _DATATYPES:
        known = ", ".join(_DATATYPES)
        raise InvalidInput(f"{where}: datatype {value!r} is not one of {known}.")
    return _DATATYPES[value]


def _parse_shape(value: object, *, where: str) -> tuple[int, ...]:
    if type(value) is not list:
        raise _shape_error(value, where)
    for d in value:  # a loop, not all() of a generator: this runs for every input of every request
        if type(d) is not int or d < 0:  # `type(...) is int`: not a bool, and JSON has no int subclass
            raise _shape_error(value, where)
    if len(value) > MAX_DIMS:
        raise InvalidInput(f"{where}: shape has {len(value)} dimensions; at most {MAX_DIMS} are supported.")
    return tuple(value)


def _shape_error(value: object, where: str) -> InvalidInput:
    return InvalidInput(
        f"{where}: shape must be a list of non-negative integers, e.g. [1, 4]; got {value!r}."
    )


def decode_input(obj: object, *, index: int) -> tuple[str, Array]:
    """One `inputs[index]` entry of an infer request -> (name, array shaped as declared)."""
    where = f"inputs[{index}]"
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where} must be an object with name, shape, datatype and data.")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}: 'name' is required and must be a non-empty string.")
    where = f"input '{name}'"
    parameters = obj.get("parameters")
    if isinstance(parameters, dict) and "binary_data_size" in parameters:
        raise Unsupported(f"{where}: the binary tensor data extension is not supported; send JSON 'data'.")
    for key in ("shape", "datatype", "data"):
        if key not in obj:
            raise InvalidInput(f"{where}: '{key}' is required.")
    shape = _parse_shape(obj["shape"], where=where)
    datatype = parse_datatype(obj["datatype"], where=where)
    data = obj["data"]
    if not isinstance(data, list):
        data = [data]
    return name, to_array(data, shape=shape, datatype=datatype, where=where)


def to_array(data: list[Any], *, shape: tuple[int, ...], datatype: Datatype, where: str) -> Array:
    """JSON data (flat or nested, row-major) -> array of `datatype` with `shape`, validated."""
    expected = math.prod(shape)
    if datatype is Datatype.BYTES:
        flat = _flatten_bytes(data, where=where)
        if len(flat) != expected:
            raise _size_error(where, shape, expected, len(flat))
        array = np.empty(expected, dtype=object)
        array[:] = flat
        return array.reshape(shape)
    try:
        raw = np.asarray(data)
    except (ValueError, TypeError) as error:
        raise InvalidInput(
            f"{where}: data is not a regular (non-ragged) array of {datatype} values."
        ) from error
    if raw.size != expected:
        raise _size_error(where, shape, expected, raw.size)
    kind, itemsize = raw.dtype.kind, raw.dtype.itemsize
    if (datatype is Datatype.FP64 and kind == "f") or (
        datatype is Datatype.INT64 and kind == "i" and itemsize == 8
    ):
        return raw.reshape(shape)  # the common case: already what _cast would return
    if datatype in _INTEGER and raw.dtype.kind in "fO" and _whole(raw, data):
        # numpy infers float64 for a mix of int64 and uint64 values (e.g. [0, 2**63]): convert the
        # JSON integers exactly instead of through float.
        try:
            return np.array(data, dtype=NUMPY_DTYPES[datatype]).reshape(shape)
        except (OverflowError, TypeError, ValueError) as error:
            info = np.iinfo(NUMPY_DTYPES[datatype])
            raise InvalidInput(
                f"{where}: a value is out of range for {datatype} ({info.min}..{info.max})."
            ) from error
    return _cast(raw, datatype=datatype, where=where).reshape(shape)


def _size_error(where: str, shape: tuple[int, ...], expected: int, got: int) -> InvalidInput:
    return InvalidInput(
        f"{where}: shape {list(shape)} holds {expected} elements but data has {got}. "
        "Make data row-major with exactly the product of shape elements."
    )


def _cast(raw: Array, *, datatype: Datatype, where: str) -> Array:
    kind = raw.dtype.kind
    if raw.size == 0:
        return raw.astype(NUMPY_DTYPES[datatype])
    if datatype is Datatype.BOOL:
        if kind != "b":
            raise InvalidInput(f"{where}: BOOL data must be JSON true/false values.")
        return raw
    if datatype in _INTEGER:
        if kind not in "iu":
            raise InvalidInput(f"{where}: {datatype} data must be whole numbers; got {_describe(raw)}.")
        info = np.iinfo(NUMPY_DTYPES[datatype])
        if int(raw.min()) < info.min or int(raw.max()) > info.max:
            raise InvalidInput(f"{where}: a value is out of range for {datatype} ({info.min}..{info.max}).")
        return raw.astype(NUMPY_DTYPES[datatype], copy=False)
    if kind not in "iuf":
        raise InvalidInput(f"{where}: {datatype} data must be numbers; got {_describe(raw)}.")
    if datatype not in _NARROW_FLOAT:  # FP64 holds every JSON number numpy parsed (no overflow)
        return raw.astype(NUMPY_DTYPES[datatype], copy=False)
    with np.errstate(over="ignore"):  # an overflow is reported below, as the user's error
        cast = raw.astype(NUMPY_DTYPES[datatype], copy=False)
    if not np.isfinite(cast).all():
        overflowed = ~np.isfinite(cast) & (np.isfinite(raw) if kind == "f" else True)
        if overflowed.any():
            largest = float(np.finfo(NUMPY_DTYPES[datatype]).max)
            raise InvalidInput(
                f"{where}: a value is out of range for {datatype} (largest magnitude {largest:g}); "
                "scale the data or send a wider datatype."
            )
    return cast


def _whole(raw: Array, data: list[Any]) -> bool:
    """True when every JSON value is an integer (the float array `raw` came from big integers)."""
    flat = np.asarray(data, dtype=object).ravel() if raw.ndim > 1 else data
    return all(isinstance(v, int) and not isinstance(v, bool) for v in flat)


def _describe(raw: Array) -> str:
    return {"b": "true/false values", "f": "fractional numbers", "U": "strings", "O": "mixed values"}.get(
        raw.dtype.kind, str(raw.dtype)
    )


def _flatten_bytes(data: list[Any], *, where: str) -> list[bytes]:
    out: list[bytes] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, str):
                out.append(item.encode())
            elif isinstance(item, list):
                stack.append(iter(item))
                break
            else:
                raise InvalidInput(f"{where}: BYTES data must be strings; got {type(item).__name__}.")
        else:
            stack.pop()
    return out


def conform(array: Array, spec: TensorSpec, *, where: str) -> Array:
    """Check an input array against the model's declared input; cast numeric types to the model's."""
    got = datatype_of(array)
    if (got is Datatype.BYTES) != (spec.datatype is Datatype.BYTES):
        raise InvalidInput(f"{where}: the model takes {spec.datatype}; got {got}.")
    if not _fits(spec.shape, array.shape):
        raise InvalidInput(
            f"{where}: the model takes shape {list(spec.shape)} (-1 is any size); got {list(array.shape)}."
        )
    if got is not spec.datatype and spec.datatype is not Datatype.BYTES:
        return _cast(array, datatype=spec.datatype, where=f"{where} ({got} sent to a {spec.datatype} input)")
    return array


def _fits(want: tuple[int, ...], have: tuple[int, ...]) -> bool:
    """Whether shape `have` is `want`, where -1 in `want` is any size."""
    if len(want) != len(have):
        return False
    for w, h in zip(want, have, strict=True):  # noqa: SIM110 (a loop: all() of a generator is slower)
        if w != h and w != -1:
            return False
    return True


def encode_output(name: str, array: Array) -> dict[str, Any]:
    """A model output array -> OIP response output (flat row-major data)."""
    datatype = _WIRE_NAMES[datatype_of(array)]  # a dict lookup: an enum's `.value` is a descriptor call
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": wire_data(array)}


def encoded_size_floor(array: Array) -> int:
    """The fewest bytes `array`'s `data` can take in a JSON response: the server refuses an answer over
    its size limit from this, before building it."""
    return array.size * _FLOOR_BYTES.get(array.dtype.kind, 3)


def nests_deeper(value: Any, limit: int = MAX_NESTING) -> bool:
    """True when a JSON value has more than `limit` levels of arrays/objects."""
    if not isinstance(value, (list, dict)):  # a scalar or None, as most ids are: no walk
        return False
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth == limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


def wire_data(array: Array) -> Any:
    """Flat data that orjson serialises (numpy arrays pass through with OPT_SERIALIZE_NUMPY)."""
    flat = array.reshape(-1)
    kind = flat.dtype.kind
    if kind in "OSU":
        return [_text(v) for v in flat.tolist()]
    if kind == "f" and flat.dtype.itemsize == 2:  # float16
        return flat.astype(np.float32)
    return np.ascontiguousarray(flat)


def _text(value: object) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def instances_to_array(instances: Sequence[Any], spec: TensorSpec | None) -> Array:
    """KServe v1 `instances` -> one batch array for a single-input model."""
    if spec is not None and spec.datatype is Datatype.BYTES:
        raw_shape = np.shape(np.asarray(instances, dtype=object))
        return to_array(list(instances), shape=tuple(raw_shape), datatype=Datatype.BYTES, where="instances")
    try:
        raw = np.asarray(instances)
    except (ValueError, TypeError) as error:
        raise InvalidInput("instances: must be a list of equally shaped rows.") from error
    if raw.dtype.kind in "US":
        return to_array(list(instances), shape=raw.shape, datatype=Datatype.BYTES, where="instances")
    datatype = (
        spec.datatype if spec is not None else (Datatype.FP64 if raw.dtype.kind == "f" else datatype_of(raw))
    )
    if raw.dtype.kind == "i" and spec is None:
        datatype = Datatype.INT64
    return _cast(raw, datatype=datatype, where="instances")
