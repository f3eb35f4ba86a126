"""A simulated accelerator: no files, a fixed latency per call whatever the batch size.

It stands in for a GPU on machines without one, so that replicas and dynamic batching really add
capacity in tests and demos: one call of up to `max_batch_size` rows costs `params.latencyMs` (default
20), so batching N requests into one call serves them N times faster. The answer is deterministic:
input `input0` (any numeric dtype, declared FP32 [-1, -1]) → output `output0` FP64 [-1], the sum of
each row. A batch larger than max_batch_size fails, as a device with fixed memory would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from modelplane.server.loaders._errors import load_error
from modelplane.server.model import Array, Datatype, LoadRequest, Model, TensorSpec

DEFAULT_LATENCY_MS = 20.0


@dataclass(frozen=True)
class SimulatedDevice:
    latency_s: float
    max_batch_size: int
    inputs: Sequence[TensorSpec] = (TensorSpec("input0", Datatype.FP32, (-1, -1)),)
    outputs: Sequence[TensorSpec] = (TensorSpec("output0", Datatype.FP64, (-1,)),)
    platform: str = "simulated_device"

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        x = inputs["input0"]
        if x.dtype.kind not in "biuf":
            raise ValueError(f"the simulated device takes numbers; got {x.dtype} input")
        values = np.atleast_1d(x).astype(np.float64)
        rows = len(values)
        if rows > self.max_batch_size:
            raise ValueError(
                f"the simulated device takes at most {self.max_batch_size} rows per call; got {rows}"
            )
        time.sleep(self.latency_s)
        return {"output0": values.sum(axis=tuple(range(1, values.ndim)))}


def load(request: LoadRequest) -> Model:
    latency = request.params.get("latencyMs", DEFAULT_LATENCY_MS)
    if (
        isinstance(latency, bool)
        or not isinstance(latency, (int, float))
        or not math.isfinite(latency)
        or latency < 0
    ):
        raise load_error(
            request,
            f"spec.model.params.latencyMs must be a non-negative number of milliseconds, got {latency!r}",
            "Fix spec.model.params.latencyMs.",
            source="",
        )
    return SimulatedDevice(latency_s=float(latency) / 1000, max_batch_size=request.max_batch_size)
