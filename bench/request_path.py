"""The model server's per-request path in process: µs per OIP v2 infer request, no HTTP, no sockets.

Calls `ModelServer.handle` (what the HTTP core calls for each parsed request) N times in a loop with
an iris-shaped request (`bench/server.py --floor`'s `nobatch` body: one FP64 row of 4, asking for
`label`), against a model without batching, and reports the median CPU µs/request over several rounds.
The model is either `instant` (a Python model that returns precomputed arrays: the server's own
cost, nothing else) or `iris` (the scikit-learn example: the server plus the predict). Steadier on a
busy machine than a load test, since no other process and no scheduler hand-off is in the loop.

`--whole` measures the whole in-process path instead, against the floor's (bench/floor.py): the raw
request bytes wrk sends (`bench/server.py --floor`'s `nobatch` request: POST, Host, Content-Length,
Content-Type, the JSON body) fed to `Connection.data_received` of our HTTP core, and the floor's
request to `_Floor.data_received`, each answering into a fake transport that keeps the bytes written.
Both load the iris model; rounds alternate floor / ours and the report gives the median CPU
µs/request of each and their ratio. That ratio is what live req/s over a CPU-bound server follows.

`--profile` adds a cProfile of one round (top functions by own time), to see where the time goes.

    python bench/request_path.py [--model instant|iris] [--requests 20000] [--rounds 7] [--profile]
    python bench/request_path.py --whole [--requests 20000] [--rounds 9] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import orjson
import uvloop

from modelplane.net.http import Connection, Deferred, Request, Response
from modelplane.server import batching
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


# --whole: raw bytes in, bytes out, floor vs ours


def wrk_request(path: str, body: dict[str, Any]) -> bytes:
    """What wrk sends for bench/server.py --floor's Lua script (json.dumps body, as that script)."""
    data = json.dumps(body).encode()
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nContent-Length: %d\r\n"
        b"Content-Type: application/json\r\n\r\n%s" % (path.encode(), len(data), data)
    )


WHOLE_OURS = wrk_request(
    "/v2/models/iris/infer",
    {
        "inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": IRIS_ROW}],
        "outputs": [{"name": "label"}],
    },
)
WHOLE_FLOOR = wrk_request("/predict", {"features": IRIS_ROW})


class FakeTransport:
    """Keeps the last bytes written; what asyncio's transport offers that the servers call."""

    def __init__(self) -> None:
        self.written = b""
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.written = data
        self.writes += 1

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        raise AssertionError("the server closed the connection")

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def can_write_eof(self) -> bool:
        return True


def floor_protocol() -> tuple[Callable[[bytes], None], FakeTransport]:
    sys.path.insert(0, str(ROOT / "bench"))
    from floor import _Floor  # the baseline itself, not a copy

    _Floor.model = joblib.load(ROOT / "examples/models/iris/model.joblib")
    protocol, transport = _Floor(), FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol.data_received, transport


def our_protocol(server: ModelServer) -> tuple[Callable[[bytes], None], FakeTransport]:
    connection, transport = Connection(server.http, asyncio.get_running_loop()), FakeTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    return connection.data_received, transport


def whole_round(feed: Callable[[bytes], None], raw: bytes, n: int, out: FakeTransport) -> float:
    """CPU µs per request: n requests fed one at a time, each answered before the next."""
    writes = out.writes
    started = time.thread_time()
    for _ in range(n):
        feed(raw)
    spent = time.thread_time() - started
    assert out.writes - writes == n, "a request was not answered inline (the model left the loop?)"
    return spent / n * 1e6


async def measure_whole(args: argparse.Namespace) -> dict[str, Any]:
    server = make_server("iris")
    await warm_up(server, 50)
    ours, ours_out = our_protocol(server)
    floor, floor_out = floor_protocol()
    whole_round(ours, WHOLE_OURS, 200, ours_out)
    whole_round(floor, WHOLE_FLOOR, 200, floor_out)
    rounds: dict[str, list[float]] = {"floor": [], "ours": []}
    for i in range(args.rounds):
        order = [("floor", floor, WHOLE_FLOOR, floor_out), ("ours", ours, WHOLE_OURS, ours_out)]
        for name, feed, raw, out in order if i % 2 == 0 else reversed(order):
            rounds[name].append(whole_round(feed, raw, args.requests, out))
    ratios = [o / f for o, f in zip(rounds["ours"], rounds["floor"], strict=True)]
    profile = ""
    if args.profile:
        # under cProfile a predict can take over the inline bound (1 ms) and leave the loop, which
        # would profile the worker hand-off instead of the path measured above
        batching.INLINE_BELOW_S = 1.0
        profiler = cProfile.Profile()
        profiler.enable()
        whole_round(ours, WHOLE_OURS, args.requests, ours_out)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
        profile = text.getvalue()
    for served in server.models.values():
        if served.batcher is not None:
            served.batcher.close()
    return {
        "rounds": rounds,
        "ratios": ratios,
        "answers": (floor_out.written, ours_out.written),
        "profile": profile,
    }


def report_whole(args: argparse.Namespace) -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # both servers run on uvloop live
    result = asyncio.run(measure_whole(args))
    for name in ("floor", "ours"):
        rounds = result["rounds"][name]
        shown = ", ".join(f"{r:.1f}" for r in rounds)
        print(f"{name}: {statistics.median(rounds):.1f} CPU us/request, min {min(rounds):.1f} ({shown})")
    ratio = statistics.median(result["ratios"])
    print(
        f"ours / floor: {ratio:.2f} (median of {args.rounds} same-round ratios); "
        f"the floor's req/s share if CPU-bound: {1 / ratio:.0%}"
    )
    for answer in result["answers"]:
        print(f"answer: {answer.decode()!r}")
    if result["profile"]:
        print(result["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("instant", "iris"), default="instant")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--whole", action="store_true", help="raw bytes in, bytes out: floor vs ours")
    args = parser.parse_args()
    if args.whole:
        report_whole(args)
        return
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
