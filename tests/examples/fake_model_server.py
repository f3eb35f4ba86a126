"""A stand-in for `modelplane serve -f examples/nlp.yaml --port 0`, stdlib only, for testing demo.py.

It speaks the same documented interface: prints `modelplane server listening on http://127.0.0.1:PORT`
once it accepts connections, answers /v2/health/ready (503 for a moment, then 200), /v2/models,
v2 infer for the five example models and KServe v1 predict, and exits 0 on SIGTERM.

    python fake_model_server.py [--fail-model NAME] [--exit-early]
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ["embed", "sentiment", "intent", "iris", "accel"]
STARTED = time.monotonic()
FAIL_MODEL: str | None = None


def embed(text: str) -> list[float]:
    """Bag-of-words vectors: texts sharing words are closer than texts that do not."""
    vec = [0.0] * 384
    for word in text.lower().split():
        vec[zlib.crc32(word.strip(".,!?").encode()) % 384] += 1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def infer(name: str, body: dict[str, Any]) -> dict[str, Any]:
    tensor = body["inputs"][0]
    data, shape = tensor["data"], tensor["shape"]
    n = shape[0]
    if name == "embed":
        flat = [x for t in data for x in embed(t)]
        outputs = [{"name": "embedding", "shape": [n, 384], "datatype": "FP32", "data": flat}]
    elif name in ("sentiment", "intent"):
        labels = [("negative" if "not" in t or "late" in t else "positive") for t in data]
        k = 2 if name == "sentiment" else 6
        probs = [p for _ in data for p in [0.9] + [0.1 / (k - 1)] * (k - 1)]
        outputs = [
            {"name": "label", "shape": [n], "datatype": "BYTES", "data": labels},
            {"name": "probabilities", "shape": [n, k], "datatype": "FP64", "data": probs},
        ]
    elif name == "iris":
        outputs = [{"name": "label", "shape": [n], "datatype": "INT64", "data": [0] * n}]
    else:  # accel
        width = shape[1]
        sums = [sum(data[i * width : (i + 1) * width]) for i in range(n)]
        time.sleep(0.02)
        outputs = [{"name": "output0", "shape": [n], "datatype": "FP64", "data": sums}]
    result: dict[str, Any] = {"model_name": name, "model_version": "v1", "outputs": outputs}
    if "id" in body:
        result["id"] = body["id"]
    return result


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets some of 64 concurrent connections


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path == "/v2/health/ready":
            if time.monotonic() - STARTED < 0.5:
                self.reply(503, {"ready": False, "error": "server is not ready: model 'embed' is loading"})
            else:
                self.reply(200, {"ready": True})
        elif self.path == "/v2/models":
            self.reply(200, {"models": MODELS})
        else:
            self.reply(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path = self.path
        if path.startswith("/v2/models/") and path.endswith("/infer"):
            name = path[len("/v2/models/") : -len("/infer")]
            if name == FAIL_MODEL:
                self.reply(500, {"error": f"model '{name}' exploded"})
            elif name in MODELS:
                self.reply(200, infer(name, body))
            else:
                self.reply(404, {"error": f"model '{name}' not found"})
        elif path == "/v1/models/sentiment:predict":
            self.reply(200, {"predictions": ["positive"] * len(body["instances"])})
        else:
            self.reply(404, {"error": f"no route {path}"})


def main() -> int:
    global FAIL_MODEL
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-model")
    parser.add_argument("--exit-early", action="store_true")
    args, _ = parser.parse_known_args()
    if args.exit_early:
        print("error: the spec file is broken", file=sys.stderr)
        return 3
    FAIL_MODEL = args.fail_model
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("some log line on stderr", file=sys.stderr, flush=True)
    print(f"modelplane server listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
