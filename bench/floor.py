"""BASELINE, not modelplane: the bare floor that bench/server.py measures the model server against.

The least a Python HTTP JSON endpoint for the iris model can do on this machine: one process, uvloop,
the httptools parser, orjson, and a scikit-learn `predict` inline on the event loop. No routing, no
validation, no metrics, no error handling beyond a 500, no batching, no shutdown. It answers the
peers' floor contract (`../shared/peers`, floor-raw, written here from scratch):

    POST /predict {"features": [5.1, 3.5, 1.4, 0.2]}  ->  {"prediction": 0}

It loads the same model file as modelplane's iris example (examples/models/iris/model.joblib), so the
model cost is the same on both sides and the difference is the serving path.

    python bench/floor.py --port 9100 [--model PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

import httptools
import joblib
import numpy as np
import orjson
import uvloop

ROOT = Path(__file__).resolve().parent.parent
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
_ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"


class _Floor(asyncio.Protocol):
    model: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        raw, self.body = b"".join(self.body), []
        try:
            features = orjson.loads(raw)["features"]
            row = np.asarray(features, dtype=np.float64).reshape(1, -1)
            payload = orjson.dumps({"prediction": int(self.model.predict(row)[0])})
        except Exception:
            self.transport.write(_ERROR)
            return
        self.transport.write(_HEAD % len(payload) + payload)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--model", type=Path, default=ROOT / "examples" / "models" / "iris" / "model.joblib")
    args = parser.parse_args()
    _Floor.model = joblib.load(args.model)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, loop.stop)
    server = loop.run_until_complete(loop.create_server(_Floor, "127.0.0.1", args.port, backlog=2048))
    port = server.sockets[0].getsockname()[1]
    print(f"floor (baseline) listening on 127.0.0.1:{port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
