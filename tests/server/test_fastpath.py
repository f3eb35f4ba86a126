"""The fast path for the common infer request (server/fastpath.py) answers exactly as the general path:
the same status and the same bytes, for good and bad bodies, and the same request counts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelplane.net.errors import HttpError
from modelplane.net.http import Request, Response
from modelplane.server import batching
from modelplane.server.app import ModelConfig, ModelServer, render_error
from modelplane.server.model import LoadRequest

ROOT = Path(__file__).resolve().parents[2]
MODEL_CODE = """
import numpy as np

class Two:
    inputs = [{"name": "a", "datatype": "FP64", "shape": [-1, 3]},
              {"name": "b", "datatype": "INT64", "shape": [-1]}]
    outputs = [{"name": "sum", "datatype": "FP64", "shape": [-1]},
               {"name": "count", "datatype": "INT64", "shape": [-1]},
               {"name": "flag", "datatype": "BOOL", "shape": [-1]},
               {"name": "text", "datatype": "BYTES", "shape": [-1]},
               {"name": "half", "datatype": "FP16", "shape": [-1]}]

    def predict(self, inputs):
        a, b = inputs["a"], inputs["b"]
        total = a.sum(axis=1) + b
        return {"sum": total, "count": b * 2, "flag": total > 1, "half": total,
                "text": np.array([str(v) for v in b], dtype=object)}
"""
IRIS = {"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
A = {"name": "a", "shape": [2, 3], "datatype": "FP64", "data": [1.5, 2, 3, 4, 5, 6.25]}
B = {"name": "b", "shape": [2], "datatype": "INT64", "data": [7, -8]}

# (model, body): good bodies the fast path takes, and every kind of body it must leave to the general path
TABLE: list[tuple[str, Any]] = [
    ("iris", {"inputs": [IRIS]}),
    ("iris", {"inputs": [IRIS], "outputs": [{"name": "label"}]}),
    ("iris", {"inputs": [IRIS], "outputs": [{"name": "probabilities"}, {"name": "label"}]}),
    ("iris", {"inputs": [IRIS], "outputs": []}),
    ("iris", {"id": "r-1", "inputs": [IRIS], "outputs": [{"name": "label", "parameters": {}}]}),
    ("iris", {"id": 7, "parameters": "x", "inputs": [IRIS]}),
    ("iris", {"id": {"nested": [1]}, "inputs": [IRIS]}),
    ("iris", {"id": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "inputs": [IRIS]}),
    ("iris", {"parameters": {"a": 1}, "inputs": [IRIS]}),
    ("iris", {"inputs": [{**IRIS, "shape": [2, 4], "data": [[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 4.8, 1.8]]}]}),
    ("iris", {"inputs": [{**IRIS, "shape": [0, 4], "data": []}]}),
    ("iris", {"inputs": [{**IRIS, "data": [5, 3, 1, 0]}]}),
    ("iris", {"inputs": [{**IRIS, "data": [True, 3.5, 1.4, 0.2]}]}),
    ("iris", {"inputs": [{**IRIS, "data": [True, False, True, False]}]}),
    ("iris", {"inputs": [{**IRIS, "data": ["5.1", 3.5, 1.4, 0.2]}]}),
    ("iris", {"inputs": [{**IRIS, "data": [[5.1, 3.5], [1.4]]}]}),
    ("iris", {"inputs": [{**IRIS, "data": [5.1, 3.5, 1.4]}]}),
    ("iris", {"inputs": [{**IRIS, "data": 5.1, "shape": [1, 1]}]}),
    ("iris", {"inputs": [{**IRIS, "shape": [1, 5], "data": [1.0] * 5}]}),
    ("iris", {"inputs": [{**IRIS, "shape": [4]}]}),
    ("iris", {"inputs": [{**IRIS, "shape": [1, -4]}]}),
    ("iris", {"inputs": [{**IRIS, "shape": [True, 4]}]}),
    ("iris", {"inputs": [{**IRIS, "shape": "1,4"}]}),
    ("iris", {"inputs": [{**IRIS, "datatype": "FP32"}]}),
    ("iris", {"inputs": [{**IRIS, "datatype": "INT64"}]}),
    ("iris", {"inputs": [{**IRIS, "datatype": "fp64"}]}),
    ("iris", {"inputs": [{**IRIS, "name": "x"}]}),
    ("iris", {"inputs": [{**IRIS, "name": ""}]}),
    ("iris", {"inputs": [{**IRIS, "parameters": {"binary_data_size": 16}}]}),
    ("iris", {"inputs": [{k: v for k, v in IRIS.items() if k != "data"}]}),
    ("iris", {"inputs": [IRIS, IRIS]}),
    ("iris", {"inputs": []}),
    ("iris", {"inputs": "x"}),
    ("iris", {}),
    ("iris", [IRIS]),
    ("iris", {"inputs": [IRIS], "outputs": [{"name": "label"}, {"name": "label"}]}),
    ("iris", {"inputs": [IRIS], "outputs": [{"name": "nope"}]}),
    ("iris", {"inputs": [IRIS], "outputs": ["label"]}),
    ("iris", {"inputs": [IRIS], "outputs": {"name": "label"}}),
    ("iris", {"inputs": [IRIS], "outputs": [{"name": 3}]}),
    ("iris", b'{"inputs": [ '),
    ("iris", b""),
    (
        "iris",
        b'{"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": [1e400, 1, 1, 1]}]}',
    ),
    ("two", {"inputs": [A, B]}),
    ("two", {"inputs": [A, B], "outputs": [{"name": "sum"}, {"name": "count"}, {"name": "flag"}]}),
    ("two", {"inputs": [A, B], "outputs": [{"name": "text"}]}),
    ("two", {"inputs": [A, B], "outputs": [{"name": "half"}]}),
    ("two", {"inputs": [B, A]}),
    ("two", {"inputs": [A]}),
    ("two", {"inputs": [A, {**B, "data": [7.0, 8.0]}]}),
    ("two", {"inputs": [A, {**B, "data": [7, 2**63]}]}),
    ("two", {"inputs": [A, {**B, "data": [7, 2**64]}]}),
    ("two", {"inputs": [A, {**B, "shape": [3], "data": [1, 2, 3]}]}),
    ("two", {"inputs": [{**A, "shape": [1, 3], "data": [1.0, 2.0, 13.0]}, {**B, "shape": [1], "data": [1]}]}),
]


def _servers(folder: Path) -> tuple[ModelServer, ModelServer]:
    (folder / "two.py").write_text(MODEL_CODE)
    configs = [
        ModelConfig(
            LoadRequest("iris", "sklearn", str(ROOT / "examples/models/iris/model.joblib"), "v1"),
            batching=False,
            max_batch_size=1,
            max_latency_ms=0.0,
        ),
        ModelConfig(
            LoadRequest("two", "python", f"{folder / 'two.py'}:Two", None),
            batching=False,
            max_batch_size=1,
            max_latency_ms=0.0,
        ),
    ]
    fast, general = ModelServer(configs), ModelServer(configs)
    for server in (fast, general):
        server.max_response = 2000
    return fast, general


def _answer(server: ModelServer, model: str, body: Any) -> tuple[int, bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # json: big integers too
    request = Request("POST", f"/v2/models/{model}/infer", "", raw, b"application/json", {})
    try:
        result = server.handle(request)
    except HttpError as error:
        result = render_error(error)
    if not isinstance(result, Response):  # the model left the loop (a slow call on a busy machine)
        asyncio.get_event_loop().run_until_complete(asyncio.wait([result.future]))
        result = result.finish(result.future)
    return result.status, result.body


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModelServer, ModelServer]]:
    # the models run inline however slow a call is here: the fast answer is written only then
    patch = pytest.MonkeyPatch()
    patch.setattr(batching, "INLINE_BELOW_S", 10.0)
    loop = asyncio.new_event_loop()
    fast, general = _servers(tmp_path_factory.mktemp("fastpath"))
    loop.run_until_complete(fast.load_all())
    loop.run_until_complete(general.load_all())
    general._infer_paths = {}  # the general path only: routing
    for served in general.models.values():
        served.common = None  # and decoding
    warm = {"iris": {"inputs": [IRIS]}, "two": {"inputs": [A, B]}}
    for _ in range(20):  # until the models run inline (their first calls go to the worker thread)
        for server in (fast, general):
            for model, body in warm.items():
                request = Request("POST", f"/v2/models/{model}/infer", "", orjson.dumps(body), None, {})
                result = server.handle(request)
                if not isinstance(result, Response):
                    loop.run_until_complete(result.future)
                    result.finish(result.future)
    asyncio.set_event_loop(loop)
    yield fast, general
    for server in (fast, general):
        for served in server.models.values():
            assert served.batcher is not None
            served.batcher.close()
    loop.close()
    patch.undo()


@pytest.mark.parametrize(("model", "body"), TABLE)
def test_same_answer_as_the_general_path(
    pair: tuple[ModelServer, ModelServer], model: str, body: Any
) -> None:
    fast, general = pair
    assert _answer(fast, model, body) == _answer(general, model, body)
    assert fast.models[model].metrics.counts == general.models[model].metrics.counts


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/iris/infer"),
        ("POST", "/v2/models/iris/versions/v1/infer"),
        ("POST", "/v2/models/iris/versions/v2/infer"),
        ("POST", "/v2/models/iris/infer/"),
        ("POST", "/v2/models/two/versions/None/infer"),
        ("POST", "/ns/default/v2/models/iris/infer"),
        ("GET", "/v2/models/iris/infer"),
        ("PUT", "/v2/models/iris/infer"),
        ("POST", "/v2/models/nope/infer"),
    ],
)
def test_same_routing_as_the_general_path(
    pair: tuple[ModelServer, ModelServer], method: str, path: str
) -> None:
    answers = []
    for server in pair:
        request = Request(method, path, "", orjson.dumps({"inputs": [IRIS]}), None, {})
        try:
            result = server.handle(request)
        except HttpError as error:
            result = render_error(error)
        assert isinstance(result, Response)
        answers.append((result.status, result.body))
    assert answers[0] == answers[1]


def test_the_common_request_takes_the_fast_path(pair: tuple[ModelServer, ModelServer]) -> None:
    assert set(pair[0]._infer_paths) == {
        "/v2/models/iris/infer",
        "/v2/models/iris/versions/v1/infer",
        "/v2/models/two/infer",
    }
    common = pair[0].models["iris"].common
    assert common is not None
    assert common.decode(orjson.dumps({"inputs": [IRIS], "outputs": [{"name": "label"}]})) is not None
    assert common.decode(orjson.dumps({"inputs": [{**IRIS, "datatype": "FP32"}]})) is None
    two = pair[0].models["two"].common
    assert two is not None and two.decode(orjson.dumps({"inputs": [A, B], "id": "x"})) is not None


_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.booleans(),
)
_DATA = st.one_of(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=3, max_size=4),  # often valid
    st.lists(_NUMBERS, max_size=9),
    st.lists(st.lists(_NUMBERS, max_size=4), max_size=3),
    st.lists(st.text(max_size=3), max_size=4),
    _NUMBERS,
)
_SHAPE = st.one_of(
    st.lists(st.integers(min_value=-2, max_value=5) | st.booleans(), max_size=3), st.text(max_size=2)
)
_INPUT = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["input0", "a", "b", "", "x"]),
        "shape": _SHAPE,
        "datatype": st.sampled_from(["FP64", "INT64", "FP32", "BOOL", "BYTES", "x"]),
        "data": _DATA,
        "parameters": st.sampled_from([{}, {"binary_data_size": 4}, None]),
    },
)
_OUTPUTS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["label", "probabilities", "sum", "text", "half", "x"])}
        ),
        st.text(max_size=2),
    ),
    max_size=3,
)
_BODY = st.fixed_dictionaries(
    {"inputs": st.lists(_INPUT, max_size=3)},
    optional={
        "outputs": _OUTPUTS,
        "id": st.one_of(st.text(max_size=3), st.integers(), st.lists(st.integers(), max_size=2)),
        "parameters": st.one_of(st.none(), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
    },
)


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(["iris", "two"]), body=_BODY, shape_from_data=st.booleans())
def test_random_bodies_answer_as_the_general_path(
    pair: tuple[ModelServer, ModelServer], model: str, body: dict[str, Any], shape_from_data: bool
) -> None:
    if shape_from_data:  # make most inputs well-formed, so valid bodies are common too
        for obj in body["inputs"]:
            data = obj.get("data")
            if isinstance(data, list) and all(not isinstance(v, list) for v in data):
                obj["shape"] = [1, len(data)] if obj.get("name") in ("input0", "a") else [len(data)]
    assert _answer(pair[0], model, body) == _answer(pair[1], model, body)
