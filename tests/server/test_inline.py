"""Inline calls: without batching, a model whose calls are measured to be short answers on the event
loop, with no hop to its worker thread; a slow model, or one that slows down, runs in the worker and
leaves the loop free. A fake in-process model stands in for a loader (it records the thread of each
call); the server tests cover the same path over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from modelplane.server.batching import INLINE_BELOW_S, WINDOW, Batcher, runs_inline
from modelplane.server.errors import InferenceError
from modelplane.server.model import Array, Datatype, TensorSpec


class Recorder:
    """Returns 2*x after `delay_s` (a blocking sleep, like a device wait); records the thread of each
    call; fails a batch with a negative value."""

    platform = "test_recorder"
    inputs: Sequence[TensorSpec] = (TensorSpec("x", Datatype.FP64, (-1, 2)),)
    outputs: Sequence[TensorSpec] = (TensorSpec("y", Datatype.FP64, (-1, 2)),)

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.threads: list[str] = []
        self.batches: list[int] = []

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        self.threads.append(threading.current_thread().name)
        self.batches.append(len(inputs["x"]))
        if self.delay_s:
            time.sleep(self.delay_s)
        x = inputs["x"]
        if (x < 0).any():
            raise ValueError("negative input")
        return {"y": x * 2}


def _row(i: float) -> dict[str, Array]:
    return {"x": np.array([[i, i + 1]], dtype=np.float64)}


async def _answer(batcher: Batcher, inputs: Mapping[str, Array]) -> tuple[Mapping[str, Array], bool]:
    """The answer to one request and whether it came at once (inline)."""
    result = batcher.call(inputs, frozenset({"y"}))
    if isinstance(result, asyncio.Future):
        return await result, False
    return result, True


def test_without_batching_a_fast_model_answers_on_the_event_loop() -> None:
    model = Recorder()
    observed: list[tuple[int, float]] = []

    async def scenario() -> list[bool]:
        batcher = Batcher(
            model,
            name="m",
            max_batch_size=1,
            max_latency_s=0.0,
            batching=False,
            on_batch=lambda rows, s: observed.append((rows, s)),
        )
        inline = []
        for i in range(20):
            out, now = await _answer(batcher, _row(i))
            assert out["y"].tolist() == [[2 * i, 2 * i + 2]]
            inline.append(now)
        batcher.close()
        return inline

    inline = asyncio.run(scenario())
    assert inline[0] is False  # not measured yet: the first call goes to the worker
    assert model.threads[0].startswith("model-m")
    first = inline.index(True)  # the next one, unless the machine stalled the first call
    assert first <= 3, inline
    assert all(inline[first:]), inline
    assert set(model.threads[first:]) == {"MainThread"}
    assert len(observed) == 20  # every call, inline or not, is in the metrics


def test_a_slow_model_stays_in_its_worker_thread_and_the_loop_stays_free() -> None:
    model = Recorder(delay_s=3 * INLINE_BELOW_S)

    async def scenario() -> tuple[list[bool], int]:
        batcher = Batcher(model, name="m", max_batch_size=1, max_latency_s=0.0, batching=False)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        inline = [(await _answer(batcher, _row(i)))[1] for i in range(10)]
        ticker.cancel()
        batcher.close()
        return inline, ticks

    inline, ticks = asyncio.run(scenario())
    assert not any(inline)
    assert all(t.startswith("model-m") for t in model.threads)
    assert ticks >= 10  # the loop ran other work while the model ran


def test_a_model_that_slows_down_leaves_the_event_loop() -> None:
    model = Recorder()

    async def scenario() -> list[bool]:
        batcher = Batcher(model, name="m", max_batch_size=1, max_latency_s=0.0, batching=False)
        for i in range(10):
            await _answer(batcher, _row(i))
        model.delay_s = 3 * INLINE_BELOW_S
        inline = [(await _answer(batcher, _row(i)))[1] for i in range(30)]
        batcher.close()
        return inline

    inline = asyncio.run(scenario())
    assert inline[0] is True
    back = inline.index(False)
    assert back <= WINDOW, inline  # once its last WINDOW calls were all slow
    assert not any(inline[back:]), inline  # and it stays in the worker while it is slow


def test_an_inline_failure_fails_only_its_own_request() -> None:
    model = Recorder()

    async def scenario() -> tuple[Any, Mapping[str, Array]]:
        batcher = Batcher(model, name="m", max_batch_size=1, max_latency_s=0.0, batching=False)
        for i in range(3):
            await _answer(batcher, _row(i))
        with pytest.raises(InferenceError, match="ValueError: negative input") as failure:
            batcher.call({"x": np.array([[-1.0, 0.0]])}, frozenset({"y"}))
        out, inline = await _answer(batcher, _row(5))
        assert inline
        batcher.close()
        return failure.value, out

    _, out = asyncio.run(scenario())
    assert out["y"].tolist() == [[10.0, 12.0]]


def test_a_backlog_queued_while_the_model_was_in_its_worker_is_answered_in_order() -> None:
    model = Recorder()

    async def scenario() -> list[Any]:
        batcher = Batcher(model, name="m", max_batch_size=1, max_latency_s=0.0, batching=False)
        first = batcher.call(_row(0), frozenset({"y"}))  # unmeasured: to the worker; the rest queue
        rest = [batcher.call(_row(i), frozenset({"y"})) for i in range(1, 20)]
        assert all(isinstance(r, asyncio.Future) for r in [first, *rest])
        out = await asyncio.gather(first, *rest)  # type: ignore[arg-type]
        batcher.close()
        return out

    out = asyncio.run(scenario())
    assert [o["y"][0, 0] for o in out] == [2.0 * i for i in range(20)]
    assert model.threads.count("MainThread") >= 1  # once measured, the queue drained on the loop


def test_with_zero_delay_batching_a_fast_model_merges_one_turn_of_requests_on_the_loop() -> None:
    model = Recorder()

    async def scenario() -> list[Any]:
        batcher = Batcher(model, name="m", max_batch_size=8, max_latency_s=0.0, batching=True)
        for i in range(3):  # measured
            await batcher.submit(_row(i), frozenset({"y"}))
        model.batches.clear()
        out = await asyncio.gather(*(batcher.submit(_row(i), frozenset({"y"})) for i in range(10)))
        batcher.close()
        return out

    out = asyncio.run(scenario())
    assert [o["y"][0, 0] for o in out] == [2.0 * i for i in range(10)]
    assert model.batches == [8, 2]  # what arrived in one turn, in batches of at most maxBatchSize
    assert model.threads[-2:] == ["MainThread", "MainThread"]


@pytest.mark.parametrize(
    ("mean_s", "mean_rows", "rows", "inline"),
    [
        (None, 1.0, 1, False),  # never measured
        (0.0002, 1.0, 1, True),
        (0.0002, 1.0, 4, True),  # 0.8 ms expected
        (0.0002, 1.0, 10, False),  # 2 ms expected for a request 10x the usual size
        (0.0002, 10.0, 10, True),
        (INLINE_BELOW_S, 1.0, 1, False),
    ],
)
def test_runs_inline(mean_s: float | None, mean_rows: float, rows: int, inline: bool) -> None:
    assert runs_inline(mean_s, mean_rows, rows) is inline


@pytest.mark.parametrize("batching", [False, True])
def test_a_request_after_close_fails_instead_of_hanging(batching: bool) -> None:
    model = Recorder(delay_s=3 * INLINE_BELOW_S)  # slow: its calls go to the worker thread

    async def scenario() -> BaseException | None:
        batcher = Batcher(model, name="m", max_batch_size=4, max_latency_s=0.0, batching=batching)
        await _answer(batcher, _row(0))
        batcher.close()
        result = batcher.call(_row(1), frozenset({"y"}))
        assert isinstance(result, asyncio.Future)
        try:
            await asyncio.wait_for(result, 5)
        except InferenceError as error:
            return error
        return None

    error = asyncio.run(scenario())
    assert error is not None and "shut down" in str(error)
