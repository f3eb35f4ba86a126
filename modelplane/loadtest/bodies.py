"""The request a load test sends: an OIP v2 inference body built from the model's metadata, or the
user's own (`--body FILE`). Pure: metadata (the JSON of GET /v2/models/NAME) in, bytes out.

One row per request: the first (batch) dimension is 1, and any other variable dimension (-1) is 4.
Numbers are small and valid for every numeric type; BYTES inputs get a short English sentence, so
text models (sentiment, intent, embed) see what they were made for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from modelplane.loadtest.errors import TargetError

VARIABLE_DIM = 4
SENTENCE = "the service was quick and the staff were friendly"


def body_from_metadata(target: str, metadata: Mapping[str, Any]) -> bytes:
    """`{"inputs": [...]}` with one row for every input the metadata declares."""
    inputs = metadata.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise TargetError(
            target,
            f"model '{target}' declares no inputs in its metadata (GET /v2/models/{target}); "
            "give the request body with --body FILE.",
        )
    tensors = [_tensor(target, spec) for spec in inputs]
    return orjson.dumps({"inputs": tensors})


def check_body(target: str, raw: bytes) -> bytes:
    """The user's body, checked to be a JSON object (the router refuses anything else)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise TargetError(target, f"--body is not JSON: {error}.") from None
    if not isinstance(value, dict):
        raise TargetError(target, '--body must hold a JSON object, e.g. {"inputs": [...]}.')
    return raw


def _tensor(target: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise TargetError(target, f"model '{target}' has an input without a name in its metadata: {spec!r}.")
    datatype = str(spec.get("datatype", "FP32")).upper()
    raw_shape = spec.get("shape") or [-1]
    if not isinstance(raw_shape, list) or not all(isinstance(d, int) for d in raw_shape):
        raise TargetError(target, f"input '{spec['name']}' of model '{target}' has shape {raw_shape!r}.")
    shape = [1] + [d if d >= 0 else VARIABLE_DIM for d in raw_shape[1:]]
    count = math.prod(shape)
    data: list[Any]
    if datatype == "BYTES":
        data = [SENTENCE] * count
    elif datatype == "BOOL":
        data = [True] * count
    elif datatype.startswith(("INT", "UINT")):
        data = [1] * count
    else:
        data = [round(0.5 + i * 0.25, 2) for i in range(count)]
    return {"name": spec["name"], "shape": shape, "datatype": datatype, "data": data}
