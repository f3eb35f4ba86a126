"""The request body built from model metadata, and the user's own."""

from __future__ import annotations

import orjson
import pytest

from modelplane.loadtest.bodies import SENTENCE, body_from_metadata, check_body
from modelplane.loadtest.errors import TargetError


def test_one_row_per_input_from_metadata() -> None:
    metadata = {
        "name": "m",
        "inputs": [
            {"name": "input0", "datatype": "FP64", "shape": [-1, 4]},
            {"name": "text", "datatype": "BYTES", "shape": [-1]},
            {"name": "ids", "datatype": "INT64", "shape": [-1, -1]},
            {"name": "flag", "datatype": "BOOL", "shape": [-1, 2]},
        ],
    }
    inputs = orjson.loads(body_from_metadata("m", metadata))["inputs"]
    assert [(i["name"], i["shape"], len(i["data"])) for i in inputs] == [
        ("input0", [1, 4], 4),
        ("text", [1], 1),
        ("ids", [1, 4], 4),
        ("flag", [1, 2], 2),
    ]
    assert inputs[1]["data"] == [SENTENCE]
    assert inputs[2]["data"] == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "metadata",
    [{}, {"inputs": []}, {"inputs": [{"datatype": "FP32"}]}, {"inputs": [{"name": "x", "shape": "4"}]}],
)
def test_metadata_without_usable_inputs_asks_for_body(metadata: dict[str, object]) -> None:
    with pytest.raises(TargetError):
        body_from_metadata("m", metadata)


def test_user_body_must_be_a_json_object() -> None:
    assert check_body("--body", b'{"inputs": []}') == b'{"inputs": []}'
    for raw in (b"[1]", b"not json"):
        with pytest.raises(TargetError, match="--body"):
            check_body("--body", raw)
