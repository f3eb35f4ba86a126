"""Dynamic batching: concurrent requests for one model merged into one model call.

Invariants:
- The model runs one batch at a time (a model is one device stream): in its own worker thread, or
  inline on the event loop when its calls are known to be short (below).
- A batch holds at most `max_batch_size` rows. While the model is busy, requests queue; when it frees,
  the queued requests are merged at once. When it is idle, the oldest queued request waits at most
  `max_latency_s` for others to join (Triton's max_queue_delay), then the batch runs, full or not.
  With `max_latency_s` 0 the batch is what arrived in one turn of the loop (the requests read from
  the sockets in one poll): it runs at the next turn (`call_soon`).
- Only requests whose inputs agree (same names, dtypes and trailing shapes) are merged; the others stay
  first in line for the next batch, so order is kept per kind of request.
- Every request gets exactly its own rows back, in order; a failing batch fails only its own requests.
- No task per request: the queue is driven by loop callbacks (`call_at`, future done-callbacks).

Inline calls. A hop to the worker thread and back costs about as much as a small scikit-learn
predict (~0.1 ms), and while it happens the loop and the worker wait on each other: without
batching, that hand-off, not the model, bounded the throughput. So a batch runs inline on the loop
when the model's calls are short: the fastest of its last `WINDOW` calls (scaled up for a batch with
more rows than its mean) took less than `INLINE_BELOW_S`. Without batching, `call` then answers at
once, with no future. The first call, and every call of a slow model, goes to the worker thread,
which keeps measuring; a model whose last `WINDOW` calls were all slow leaves the loop again. The
fastest, not the mean: a call's wall-clock time includes the waits of a busy machine (the process
preempted; in the worker, the GIL held by the loop, which under load can be ten times the model's
own time), and such waits must not keep a fast model off the loop. A model whose calls are mostly
fast but sometimes long (none of the shipped formats) would run inline and hold the loop for those.
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

INLINE_BELOW_S = 0.001  # a model call expected to take less than this runs inline on the event loop
WINDOW = 8  # a model's call time is the fastest of its last this many calls
ROWS_WEIGHT = 0.2  # the weight of the newest call in the mean rows per call


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
    if len(inputs) == 1:  # most models take one input
        for a in inputs.values():
            return a.shape[0] if a.ndim else 1
    sizes = {a.shape[0] if a.ndim else 1 for a in inputs.values()}
    if len(sizes) != 1:
        raise InvalidInput(f"all inputs must have the same first (batch) dimension; got {sorted(sizes)}.")
    return sizes.pop()


def runs_inline(call_s: float | None, mean_rows: float, rows: int) -> bool:
    """Whether a call of `rows` rows may run on the event loop: the model's call time, scaled
    linearly for a request larger than its mean call, stays under `INLINE_BELOW_S`. An unmeasured
    model (`call_s` None) never runs inline."""
    if call_s is None:
        return False
    return call_s * max(1.0, rows / mean_rows) < INLINE_BELOW_S


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
        self._closed = False
        self._soon = False
        self._mean_rows = 1.0
        self._recent_calls: deque[float] = deque(maxlen=WINDOW)
        self._call_s: float | None = None  # min(self._recent_calls), kept as they change

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def call_s(self) -> float | None:
        """The model's call time: the fastest of its last `WINDOW` calls; None before the first."""
        return self._call_s

    def call(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Outputs | asyncio.Future[Outputs]:
        """One request: its outputs now, when the model may run inline (see the module docstring), or a
        future as from `submit`. A failing inline call raises `InferenceError`, as the future would."""
        if self._merge or self._busy or self._queue or self._closed:
            return self.submit(inputs, outputs)
        rows = self._rows_of(inputs)
        call_s = self._call_s  # runs_inline, written out: this runs for every request
        if call_s is None or not call_s * max(1.0, rows / self._mean_rows) < INLINE_BELOW_S:
            return self.submit(inputs, outputs)
        if self._on_dequeue is not None:
            self._on_dequeue(0.0)
        started = time.perf_counter()
        try:
            result = self._model.predict(inputs, outputs)
        except Exception as error:
            self._measured(rows, time.perf_counter() - started)
            if isinstance(error, InferenceError):
                raise
            raise InferenceError(_message(error)) from error
        self._measured(rows, time.perf_counter() - started)
        if type(result) is dict:  # _check for the common answer, without the call
            for array in result.values():
                if type(array) is not np.ndarray or array.ndim == 0 or array.shape[0] != rows:
                    break
            else:
                return result
        try:
            return _check(result, rows)
        except InferenceError:
            raise
        except Exception as error:  # the model's failure is its caller's 500
            raise InferenceError(_message(error)) from error

    def submit(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> asyncio.Future[Outputs]:
        """Queue one request; the future resolves to its own rows of each output."""
        rows = self._rows_of(inputs)
        future: asyncio.Future[Outputs] = self._loop.create_future()
        self._queue.append(_Pending(inputs, rows, outputs, future, time.perf_counter()))
        if self._busy:
            return future
        if self._merge and not self._max_latency:
            # zero delay: batch what arrives in this turn of the loop (the requests read from the
            # sockets in one poll), then run it at the next
            if not self._soon:
                self._soon = True
                self._loop.call_soon(self._on_soon)
        else:
            self._schedule()
        return future

    def _on_soon(self) -> None:
        self._soon = False
        self._schedule()

    def _rows_of(self, inputs: Mapping[str, Array]) -> int:
        rows = -1
        if len(inputs) == 1:  # rows_of for the common single input, without the call
            for a in inputs.values():
                rows = a.shape[0] if a.ndim else 1
        if rows < 0:
            rows = rows_of(inputs)
        if rows == 0:
            raise InvalidInput("the request has no rows; send at least one.")
        if rows > self._max_rows:
            raise InvalidInput(
                f"the request has {rows} rows but model '{self._name}' takes at most {self._max_rows} rows "
                "per batch (spec.batching.maxBatchSize). Split the request."
            )
        return rows

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _schedule(self) -> None:
        """Run batches while one is due (inline ones one after another), or arm a timer for when the
        oldest request's wait ends."""
        while not self._busy and self._queue:
            queued_rows = 0
            for pending in self._queue:
                queued_rows += pending.rows
                if queued_rows >= self._max_rows:
                    break
            deadline = self._queue[0].enqueued + self._max_latency
            now = time.perf_counter()
            if queued_rows < self._max_rows and now < deadline:
                if self._timer is None:
                    self._timer = self._loop.call_later(deadline - now, self._on_timer)
                return
            self._dispatch()

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
        """Start the next batch: in the worker thread, or (without batching, for a model known to be
        fast) run it inline and answer it before returning."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._take()
        if not batch:  # every request taken was abandoned by its client
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
            return
        wanted = frozenset().union(*(p.outputs for p in batch))
        rows = sum(p.rows for p in batch)
        if runs_inline(self.call_s, self._mean_rows, rows):
            result, seconds = self._timed(inputs, wanted)
            self._measured(rows, seconds)
            self._settle(batch, rows, result)
            return
        try:
            running = self._loop.run_in_executor(self._executor, self._timed, inputs, wanted)
        except RuntimeError:  # closed: the server is shutting down
            closed = InferenceError(f"model '{self._name}' is shut down; the server is stopping.")
            self._settle(batch, rows, closed)
            return
        self._busy = True
        running.add_done_callback(lambda done: self._finish(done, batch, rows))

    def _timed(
        self, inputs: Mapping[str, Array], wanted: frozenset[str]
    ) -> tuple[Outputs | Exception, float]:
        """The model's answer, or the exception it raised, and the seconds it took."""
        started = time.perf_counter()
        try:
            result: Outputs | Exception = self._model.predict(inputs, wanted)
        except Exception as error:
            result = error
        return result, time.perf_counter() - started

    def _measured(self, rows: int, seconds: float) -> None:
        self._recent_calls.append(seconds)
        self._call_s = min(self._recent_calls)
        self._mean_rows += ROWS_WEIGHT * (rows - self._mean_rows)
        if self._on_batch is not None:
            self._on_batch(rows, seconds)

    def _finish(
        self, done: asyncio.Future[tuple[Outputs | Exception, float]], batch: list[_Pending], rows: int
    ) -> None:
        self._busy = False
        result: Outputs | BaseException
        try:
            result, seconds = done.result()
        except (Exception, asyncio.CancelledError) as error:  # the executor was shut down
            result = error
        else:
            self._measured(rows, seconds)
        self._settle(batch, rows, result)
        self._schedule()

    def _settle(self, batch: list[_Pending], rows: int, result: Outputs | BaseException) -> None:
        """Give each request of the batch its own rows, or the batch's failure."""
        try:
            if isinstance(result, BaseException):
                raise result
            outputs = _check(result, rows)
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


def _check(outputs: Outputs, rows: int) -> Outputs:
    if type(outputs) is not dict and not isinstance(outputs, Mapping):  # a dict: no ABC check
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
