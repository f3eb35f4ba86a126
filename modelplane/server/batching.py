"""Dynamic batching: concurrent requests for one model merged into one model call.

Invariants:
- The model runs one batch at a time, in its own worker thread (a model is one device stream).
- A batch holds at most `max_batch_size` rows. While the model is busy, requests queue; when it frees,
  the queued requests are merged at once. When it is idle, the oldest queued request waits at most
  `max_latency_s` for others to join (Triton's max_queue_delay), then the batch runs, full or not.
- Only requests whose inputs agree (same names, dtypes and trailing shapes) are merged; the others stay
  first in line for the next batch, so order is kept per kind of request.
- Every request gets exactly its own rows back, in order; a failing batch fails only its own requests.
- No task per request: the queue is driven by loop callbacks (`call_at`, future done-callbacks).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from modelplane.server.errors import InferenceError, InvalidInput
from modelplane.server.model import Array, Model

Outputs = Mapping[str, Array]
BatchObserver = Callable[[int, float], None]  # (rows in the batch, seconds the model took)


@dataclass(eq=False)
class _Pending:
    inputs: Mapping[str, Array]
    rows: int
    outputs: frozenset[str]
    future: asyncio.Future[Outputs]
    enqueued: float
    key: tuple[object, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.key = tuple(sorted((n, a.dtype.str, a.ndim, a.shape[1:]) for n, a in self.inputs.items()))


def rows_of(inputs: Mapping[str, Array]) -> int:
    """The batch size of one request: the first-axis length every input must share."""
    sizes = {a.shape[0] if a.ndim else 1 for a in inputs.values()}
    if len(sizes) != 1:
        raise InvalidInput(f"all inputs must have the same first (batch) dimension; got {sorted(sizes)}.")
    return sizes.pop()


class Batcher:
    """Queues requests for one model and runs them in batches. Create and use on the event loop."""

    def __init__(
        self,
        model: Model,
        *,
        name: str,
        max_batch_size: int,
        max_latency_s: float,
        batching: bool,
        on_batch: BatchObserver | None = None,
        on_dequeue: Callable[[float], None] | None = None,
    ) -> None:
        self._model = model
        self._name = name
        self._max_rows = max_batch_size if batching else 1 << 62
        self._max_latency = max_latency_s if batching else 0.0
        self._merge = batching
        self._queue: deque[_Pending] = deque()
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._loop = asyncio.get_running_loop()
        self._on_batch = on_batch
        self._on_dequeue = on_dequeue

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> asyncio.Future[Outputs]:
        """Queue one request; the future resolves to its own rows of each output."""
        rows = rows_of(inputs)
        if rows == 0:
            raise InvalidInput("the request has no rows; send at least one.")
        if rows > self._max_rows:
            raise InvalidInput(
                f"the request has {rows} rows but model '{self._name}' takes at most {self._max_rows} rows "
                "per batch (spec.batching.maxBatchSize). Split the request."
            )
        future: asyncio.Future[Outputs] = self._loop.create_future()
        self._queue.append(_Pending(inputs, rows, outputs, future, time.perf_counter()))
        if not self._busy:
            self._schedule()
        return future

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _schedule(self) -> None:
        """Run a batch now if one is due, or arm a timer for when the oldest request's wait ends."""
        if self._busy or not self._queue:
            return
        queued_rows = 0
        for pending in self._queue:
            queued_rows += pending.rows
            if queued_rows >= self._max_rows:
                break
        deadline = self._queue[0].enqueued + self._max_latency
        now = time.perf_counter()
        if queued_rows >= self._max_rows or now >= deadline:
            self._dispatch()
        elif self._timer is None:
            self._timer = self._loop.call_later(deadline - now, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._schedule()

    def _take(self) -> list[_Pending]:
        while self._queue and self._queue[0].future.done():  # the client went away: skip it
            self._queue.popleft()
        if not self._queue:
            return []
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        if not self._merge:
            return batch
        skipped: list[_Pending] = []
        while self._queue and rows < self._max_rows:
            pending = self._queue[0]
            if rows + pending.rows > self._max_rows:
                break
            self._queue.popleft()
            if pending.future.done():
                continue
            if pending.key == first.key:
                batch.append(pending)
                rows += pending.rows
            else:
                skipped.append(pending)
        self._queue.extendleft(reversed(skipped))
        return batch

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._take()
        if not batch:  # every request taken was abandoned by its client
            self._schedule()
            return
        now = time.perf_counter()
        if self._on_dequeue is not None:
            for pending in batch:
                self._on_dequeue(now - pending.enqueued)
        try:
            if len(batch) == 1:
                inputs = batch[0].inputs
            else:
                inputs = {n: np.concatenate([p.inputs[n] for p in batch]) for n in batch[0].inputs}
        except Exception as error:  # never leave a request of this batch unanswered
            failure = InferenceError(f"could not assemble the batch: {_message(error)}")
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(failure)
            self._schedule()
            return
        wanted = frozenset().union(*(p.outputs for p in batch))
        self._busy = True
        started = time.perf_counter()
        running = self._loop.run_in_executor(self._executor, self._model.predict, inputs, wanted)
        running.add_done_callback(lambda done: self._finish(done, batch, started))

    def _finish(self, done: asyncio.Future[Outputs], batch: list[_Pending], started: float) -> None:
        self._busy = False
        total = sum(p.rows for p in batch)
        if self._on_batch is not None:
            self._on_batch(total, time.perf_counter() - started)
        try:
            outputs = _check(done.result(), total)
        except (Exception, asyncio.CancelledError) as error:  # the model's failure is its callers' 500
            failure = error if isinstance(error, InferenceError) else InferenceError(_message(error))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(failure)
        else:
            offset = 0
            for pending in batch:
                end = offset + pending.rows
                if not pending.future.done():
                    pending.future.set_result({n: a[offset:end] for n, a in outputs.items()})
                offset = end
        self._schedule()


def _check(outputs: Outputs, rows: int) -> Outputs:
    if not isinstance(outputs, Mapping):
        raise InferenceError(f"the model returned {type(outputs).__name__}, not a mapping of output arrays.")
    for name, array in outputs.items():
        if not isinstance(array, np.ndarray) or array.ndim == 0 or array.shape[0] != rows:
            got = array.shape if isinstance(array, np.ndarray) else type(array).__name__
            raise InferenceError(
                f"the model returned output '{name}' with shape {got} for a batch of {rows} rows."
            )
    return outputs


def _message(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
