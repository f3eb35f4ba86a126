"""Dynamic batching: each request gets exactly its own rows back, batches respect maxBatchSize,
a failing batch fails only its own requests. A fake in-process model stands in for a loader here;
the server tests use real models."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelplane.server.batching import Batcher
from modelplane.server.errors import InferenceError, InvalidInput
from modelplane.server.model import Array, Datatype, TensorSpec


class Doubler:
    """Returns 2*x; records every batch size; fails any batch containing a negative value."""

    platform = "test_doubler"
    inputs: Sequence[TensorSpec] = (TensorSpec("x", Datatype.FP64, (-1, 2)),)
    outputs: Sequence[TensorSpec] = (TensorSpec("y", Datatype.FP64, (-1, 2)),)

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[int] = []
        self.gate = gate

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        if self.gate is not None:
            self.gate.wait(5)
        x = inputs["x"]
        self.batches.append(x.shape[0])
        if (x < 0).any():
            raise ValueError("negative input")
        return {"y": x * 2}


def _rows(start: int, n: int) -> Array:
    return np.arange(start, start + 2 * n, dtype=np.float64).reshape(n, 2)


async def _run_concurrently(
    model: Doubler, sizes: list[int], *, max_batch: int, latency_s: float
) -> list[Any]:
    batcher = Batcher(model, name="m", max_batch_size=max_batch, max_latency_s=latency_s, batching=True)
    try:
        starts = np.cumsum([0, *sizes[:-1]]) * 2
        futures = [
            batcher.submit({"x": _rows(int(s), n)}, frozenset({"y"}))
            for s, n in zip(starts, sizes, strict=True)
        ]
        return await asyncio.gather(*futures, return_exceptions=True)
    finally:
        batcher.close()


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=1, max_size=40), max_batch=st.integers(8, 33))
def test_every_request_gets_exactly_its_own_rows(sizes: list[int], max_batch: int) -> None:
    model = Doubler()
    results = asyncio.run(_run_concurrently(model, sizes, max_batch=max_batch, latency_s=0.002))
    starts = np.cumsum([0, *sizes[:-1]]) * 2
    for result, start, n in zip(results, starts, sizes, strict=True):
        assert np.array_equal(result["y"], _rows(int(start), n) * 2)
    assert all(b <= max_batch for b in model.batches)
    assert sum(model.batches) == sum(sizes)


def test_queued_requests_are_merged_while_the_model_is_busy() -> None:
    gate = threading.Event()
    model = Doubler(gate)

    async def scenario() -> list[Any]:
        batcher = Batcher(model, name="m", max_batch_size=32, max_latency_s=0.0, batching=True)
        first = batcher.submit({"x": _rows(0, 1)}, frozenset({"y"}))
        await asyncio.sleep(0)  # one turn of the loop: the first batch starts, alone
        rest = [batcher.submit({"x": _rows(2 * i, 1)}, frozenset({"y"})) for i in range(1, 11)]
        gate.set()
        out = await asyncio.gather(first, *rest)
        batcher.close()
        return out

    asyncio.run(scenario())
    assert model.batches == [1, 10]


def test_a_failing_batch_fails_only_its_own_requests() -> None:
    gate = threading.Event()
    model = Doubler(gate)

    async def scenario() -> list[Any]:
        batcher = Batcher(model, name="m", max_batch_size=2, max_latency_s=0.0, batching=True)
        futures = [batcher.submit({"x": _rows(0, 1)}, frozenset({"y"}))]  # batch 1
        await asyncio.sleep(0)  # one turn of the loop: the first batch starts, alone
        futures += [
            batcher.submit({"x": -_rows(0, 1) - 1}, frozenset({"y"})),  # batch 2 (fails)
            batcher.submit({"x": _rows(4, 1)}, frozenset({"y"})),  # batch 2 (fails with it)
            batcher.submit({"x": _rows(6, 2)}, frozenset({"y"})),  # batch 3
        ]
        gate.set()
        out = await asyncio.gather(*futures, return_exceptions=True)
        batcher.close()
        return out

    ok1, bad, sibling, ok2 = asyncio.run(scenario())
    assert isinstance(bad, InferenceError) and "negative input" in str(bad)
    assert isinstance(sibling, InferenceError)
    assert np.array_equal(ok1["y"], _rows(0, 1) * 2)
    assert np.array_equal(ok2["y"], _rows(6, 2) * 2)


def test_requests_of_different_shapes_are_not_merged() -> None:
    class Summer(Doubler):
        def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
            self.batches.append(inputs["x"].shape[0])
            return {"y": inputs["x"].sum(axis=1)}

    model = Summer()

    async def scenario() -> list[Any]:
        batcher = Batcher(model, name="m", max_batch_size=32, max_latency_s=0.01, batching=True)
        a = batcher.submit({"x": np.ones((1, 2))}, frozenset({"y"}))
        b = batcher.submit({"x": np.ones((1, 3))}, frozenset({"y"}))
        c = batcher.submit({"x": np.ones((1, 2))}, frozenset({"y"}))
        out = await asyncio.gather(a, b, c)
        batcher.close()
        return out

    a, b, c = asyncio.run(scenario())
    assert a["y"].tolist() == [2.0] and b["y"].tolist() == [3.0] and c["y"].tolist() == [2.0]
    assert sorted(model.batches) == [1, 2]


def test_a_request_larger_than_max_batch_size_is_refused() -> None:
    async def scenario() -> None:
        batcher = Batcher(Doubler(), name="m", max_batch_size=4, max_latency_s=0.0, batching=True)
        try:
            with pytest.raises(InvalidInput, match="at most 4 rows"):
                batcher.submit({"x": _rows(0, 5)}, frozenset({"y"}))
        finally:
            batcher.close()

    asyncio.run(scenario())


def test_without_batching_each_request_is_its_own_call() -> None:
    model = Doubler()

    async def scenario() -> None:
        batcher = Batcher(model, name="m", max_batch_size=1, max_latency_s=0.0, batching=False)
        await asyncio.gather(*(batcher.submit({"x": _rows(0, 3)}, frozenset({"y"})) for _ in range(5)))
        batcher.close()

    asyncio.run(scenario())
    assert model.batches == [3, 3, 3, 3, 3]
