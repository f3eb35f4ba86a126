"""The model server's per-request path in process: µs per OIP v2 infer request, no HTTP, no sockets.

Calls `ModelServer.handle` (what the HTTP core calls for each parsed request) N times in a loop with
an iris-shaped request (`bench/server.py --floor`'s `nobatch` body: one FP64 row of 4, asking for
`label`), against a model without batching, and reports the median CPU µs/request over several rounds.
The model is either `instant` (a Python model that returns precomputed arrays: the server's own
cost, nothing else) or `iris` (the scikit-learn example: the server plus the predict). Steadier on a
busy machine than a load test, since no other process and no scheduler hand-off is in the loop.

`--profile` adds a cProfile of one round (top functions by own time), to see where the time goes.

    python bench/request_path.py [--model instant|iris] [--requests 20000] [--rounds 7] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson

from modelplane.net.http import Deferred, Request, Response
from modelplane.server.app import ModelConfig, ModelServer
from modelplane.server.model import Array, LoadRequest

ROOT = Path(__file__).resolve().parent.parent
IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
BODY = orjson.dumps(
    {
        "inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": IRIS_ROW}],
        "outputs": [{"name": "label"}],
    }
)
HEADERS = {
    b"host": b"127.0.0.1:9000",
    b"content-type": b"application/json",
    b"content-length": str(len(BODY)).encode(),
}


class Instant:
    """A model that answers at once: the iris model's metadata, a precomputed answer."""

    inputs: ClassVar[list[dict[str, Any]]] = [{"name": "input0", "datatype": "FP64", "shape": [-1, 4]}]
    outputs: ClassVar[list[dict[str, Any]]] = [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
    ]
    _answer: ClassVar[dict[str, Array]] = {
        "label": np.zeros(1, dtype=np.int64),
        "probabilities": np.zeros((1, 3)),
    }

    def predict(self, inputs: Mapping[str, Array]) -> Mapping[str, Array]:
        return self._answer


def make_server(model: str) -> ModelServer:
    if model == "iris":
        load = LoadRequest("iris", "sklearn", str(ROOT / "examples/models/iris/model.joblib"), "v1")
    else:
        load = LoadRequest("iris", "python", f"{Path(__file__).resolve()}:Instant", "v1")
    return ModelServer([ModelConfig(load, batching=False, max_batch_size=1, max_latency_ms=0.0)])


def request() -> Request:
    return Request("POST", "/v2/models/iris/infer", "", BODY, HEADERS[b"content-type"], dict(HEADERS))


async def warm_up(server: ModelServer, n: int) -> bytes:
    """Load the model and call it until it runs inline (the first calls go to its worker thread)."""
    await server.load_all()
    body = b""
    for _ in range(n):
        result = server.handle(request())
        if isinstance(result, Deferred):
            await result.future
            result = result.finish(result.future)
        body = result.body
    assert isinstance(server.handle(request()), Response), "the model does not run inline"
    return body


def one_round(server: ModelServer, n: int) -> float:
    """CPU µs per request over n requests: the thread's CPU time, which leaves out the time the
    process waits for a core on a busy machine (wall time would count it)."""
    handle = server.handle
    requests = [request() for _ in range(n)]
    started = time.thread_time()
    for r in requests:
        handle(r)
    return (time.thread_time() - started) / n * 1e6


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = make_server(args.model)
    answer = await warm_up(server, 50)
    rounds = [one_round(server, args.requests) for _ in range(args.rounds)]
    profile = ""
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        one_round(server, args.requests)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        profile = out.getvalue()
    server.metrics.render()  # the scrape works after the loop
    for served in server.models.values():
        if served.batcher is not None:
            served.batcher.close()
    return {"rounds": rounds, "median": statistics.median(rounds), "answer": answer, "profile": profile}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("instant", "iris"), default="instant")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    rounds = ", ".join(f"{r:.1f}" for r in result["rounds"])
    print(
        f"{args.model}: {result['median']:.1f} CPU us/request, min {min(result['rounds']):.1f} "
        f"(median of {args.rounds} rounds: {rounds})"
    )
    print(f"answer: {result['answer'].decode()}")
    if result["profile"]:
        print(result["profile"])


if __name__ == "__main__":
    main()
