"""The wire format: every datatype, flat and nested data, and the errors users hit."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from modelplane.server.errors import InvalidInput, Unsupported
from modelplane.server.model import Datatype, TensorSpec
from modelplane.server.tensors import (
    conform,
    decode_input,
    encode_output,
    encoded_size_floor,
    instances_to_array,
)


def _input(datatype: str, shape: list[int], data: Any, name: str = "x") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


@pytest.mark.parametrize(
    ("datatype", "data", "dtype"),
    [
        ("BOOL", [True, False], np.bool_),
        ("UINT8", [0, 255], np.uint8),
        ("UINT16", [0, 65535], np.uint16),
        ("UINT32", [0, 2**32 - 1], np.uint32),
        ("UINT64", [0, 2**63], np.uint64),
        ("INT8", [-128, 127], np.int8),
        ("INT16", [-32768, 32767], np.int16),
        ("INT32", [-(2**31), 2**31 - 1], np.int32),
        ("INT64", [-(2**63), 2**63 - 1], np.int64),
        ("FP16", [0.5, -1.25], np.float16),
        ("FP32", [0.5, 1], np.float32),
        ("FP64", [0.1, 2], np.float64),
    ],
)
def test_every_numeric_datatype_decodes_to_its_dtype(datatype: str, data: list[Any], dtype: Any) -> None:
    name, array = decode_input(_input(datatype, [2], data), index=0)
    assert name == "x"
    assert array.dtype == np.dtype(dtype)
    assert array.tolist() == [dtype(v).item() for v in data]


def test_bytes_decode_to_object_array_of_bytes() -> None:
    _, array = decode_input(_input("BYTES", [2, 1], [["héllo"], ["world"]]), index=0)
    assert array.shape == (2, 1)
    assert array.dtype == object
    assert array.ravel().tolist() == ["héllo".encode(), b"world"]


def test_flat_and_nested_data_give_the_same_tensor() -> None:
    _, flat = decode_input(_input("FP32", [2, 2], [1, 2, 3, 4]), index=0)
    _, nested = decode_input(_input("FP32", [2, 2], [[1, 2], [3, 4]]), index=0)
    assert flat.shape == nested.shape == (2, 2)
    assert (flat == nested).all()


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_input("FP32", [2, 2], [1, 2, 3]), "holds 4 elements but data has 3"),
        (_input("FP32", [1, 2], [[1, 2], [3]]), "non-ragged"),
        (_input("INT8", [1], [128]), "out of range for INT8"),
        (_input("UINT8", [1], [-1]), "out of range for UINT8"),
        (_input("INT32", [1], [1.5]), "whole numbers"),
        (_input("FP32", [1], ["a"]), "must be numbers"),
        (_input("BOOL", [1], [1]), "true/false"),
        (_input("BYTES", [1], [1]), "must be strings"),
        (_input("FP33", [1], [1]), "datatype 'FP33' is not one of"),
        (_input("FP32", [-1], [1]), "non-negative integers"),
        (_input("FP32", "2", [1]), "non-negative integers"),
        (_input("FP32", [True], [1]), "non-negative integers"),
        (_input("FP32", [1.0], [1]), "non-negative integers"),
        (_input("FP32", None, [1]), "non-negative integers"),
        ({"datatype": "FP32", "shape": [1], "data": [1]}, "'name' is required"),
        ({"name": "x", "shape": [1], "data": [1]}, "'datatype' is required"),
        ([1, 2], "must be an object"),
        (_input("FP32", [1] * 65, [1]), "shape has 65 dimensions; at most 64"),
        (_input("FP16", [2], [1e6, 1]), r"out of range for FP16 \(largest magnitude 65504\)"),
        (_input("FP16", [1], [70000]), "out of range for FP16"),
        (_input("FP32", [1], [1e300]), "out of range for FP32"),
    ],
)
def test_bad_inputs_are_refused_with_what_to_fix(obj: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_input(obj, index=0)


def test_binary_extension_is_not_implemented() -> None:
    obj = _input("FP32", [1], [1.0])
    obj["parameters"] = {"binary_data_size": 4}
    with pytest.raises(Unsupported):
        decode_input(obj, index=0)


def test_conform_checks_shape_and_casts_numeric_types() -> None:
    spec = TensorSpec("x", Datatype.FP64, (-1, 4))
    array = np.ones((3, 4), dtype=np.float32)
    assert conform(array, spec, where="x").dtype == np.float64
    with pytest.raises(InvalidInput, match=r"shape \[-1, 4\]"):
        conform(np.ones((3, 5)), spec, where="x")
    with pytest.raises(InvalidInput, match="takes FP64; got BYTES"):
        conform(np.array([b"a"], dtype=object), TensorSpec("x", Datatype.FP64, (-1,)), where="x")


def test_conform_refuses_values_that_do_not_fit_the_models_integer_type() -> None:
    with pytest.raises(InvalidInput, match="whole numbers"):
        conform(np.array([1000.0, 2.7]), TensorSpec("x", Datatype.INT8, (-1,)), where="x")
    with pytest.raises(InvalidInput, match="out of range for UINT8"):
        conform(np.array([300, -1], dtype=np.int64), TensorSpec("x", Datatype.UINT8, (-1,)), where="x")
    assert conform(
        np.array([3, 4], dtype=np.int64), TensorSpec("x", Datatype.UINT8, (-1,)), where="x"
    ).tolist() == [
        3,
        4,
    ]


def test_conform_refuses_values_that_overflow_the_models_float_type() -> None:
    with pytest.raises(InvalidInput, match=r"input 'x' .*out of range for FP16"):
        conform(np.array([1e6]), TensorSpec("x", Datatype.FP16, (-1,)), where="input 'x'")
    assert (
        conform(np.array([np.inf, 1.0]), TensorSpec("x", Datatype.FP16, (-1,)), where="x").tolist()[1] == 1.0
    )


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((50, 3)),
        np.full(40, -1.2345678901234),
        np.zeros(30, dtype=np.float16),
        np.arange(100, dtype=np.int64),
        np.zeros(10, dtype=np.uint8),
        np.array([True, False] * 20),
        np.array([b"", b"ab", "caf\u00e9".encode()] * 5, dtype=object),
        np.zeros((0, 4)),
    ],
)
def test_the_size_floor_never_exceeds_the_encoded_size(array: np.ndarray) -> None:
    # the server refuses an answer whose floor is over --max-response-size before building it
    encoded = orjson.dumps(encode_output("y", array), option=orjson.OPT_SERIALIZE_NUMPY)
    assert encoded_size_floor(array) <= len(encoded)
    assert encoded_size_floor(array) >= array.size


def test_encode_output_is_flat_row_major_with_shape() -> None:
    out = encode_output("y", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    assert out["datatype"] == "FP32"
    assert out["shape"] == [2, 2]
    assert list(out["data"]) == [1.0, 2.0, 3.0, 4.0]
    text = encode_output("t", np.array([b"a", "b"], dtype=object))
    assert text == {"name": "t", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}


def test_v1_instances_become_one_batch() -> None:
    numbers = instances_to_array([[1, 2], [3, 4]], TensorSpec("x", Datatype.FP64, (-1, 2)))
    assert numbers.shape == (2, 2) and numbers.dtype == np.float64
    texts = instances_to_array(["a", "b"], None)
    assert texts.tolist() == [b"a", b"b"]
