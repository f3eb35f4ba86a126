"""Ray Serve side of bench/spike.py: the same three simulated models, run with Ray's Python API.

Run by bench/spike.py with the python of a venv that has `ray[serve]` (it is not a modelplane
dependency); not imported by modelplane.

    RAY_PYTHON spike_ray.py --port 8000 --latency-ms 200 --concurrency 32 --variant default \
        --status-file /tmp/ray-status.json

Each model is a Ray Serve application at route prefix /v2/models/NAME, so the load generator sends
the same OIP path as to modelplane's router. A model call takes --latency-ms and one call runs at a
time per replica (an asyncio.Lock: one device), as modelplane's `simulated` format without batching.
Replica counts (RUNNING, and the autoscaler's target when Ray reports it) are written to
--status-file every 0.5 s. Prints READY when every application runs; SIGTERM/SIGINT stops Ray.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

import ray
from ray import serve

MODELS = ("sentiment", "intent", "embed")

# Ray's AutoscalingConfig defaults are kept in "default" except the replica bounds and the target,
# which are the scenario's (min 2, max 20, 1 request in flight per replica).
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # Ray's documented knobs for a fast reaction: no upscale delay, a short look-back, fast metric
    # pushes; and the scale-down delay of the scenario (60 s) instead of Ray's 600 s.
    "tuned": {
        "upscale_delay_s": 0.0,
        "look_back_period_s": 2.0,
        "metrics_interval_s": 0.5,
        "downscale_delay_s": 60.0,
    },
}


@serve.deployment
class Simulated:
    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.device = asyncio.Lock()

    async def __call__(self, request: Any) -> dict[str, Any]:
        await request.body()
        async with self.device:
            await asyncio.sleep(self.latency_s)
        return {"outputs": [{"name": "output0", "datatype": "FP64", "shape": [1], "data": [10.0]}]}


def counts() -> dict[str, dict[str, Any]]:
    status = serve.status()
    out: dict[str, dict[str, Any]] = {}
    for name in MODELS:
        app = status.applications.get(name)
        if app is None:
            continue
        for dep in app.deployments.values():
            states = {str(k): v for k, v in dep.replica_states.items()}
            running = sum(v for k, v in states.items() if k.endswith("RUNNING"))
            wanted = sum(v for k, v in states.items() if not k.endswith("STOPPING"))
            out[name] = {"running": running, "wanted": wanted, "status": str(app.status)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--target", type=float, default=1.0)
    ap.add_argument("--min", type=int, default=2)
    ap.add_argument("--max", type=int, default=20)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    ap.add_argument("--status-file", required=True)
    args = ap.parse_args()

    stop = False

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    autoscaling = {
        "min_replicas": args.min,
        "max_replicas": args.max,
        "target_ongoing_requests": args.target,
        **VARIANTS[args.variant],
    }
    for name in MODELS:
        app = Simulated.options(
            name=name,
            max_ongoing_requests=args.concurrency,
            autoscaling_config=autoscaling,
            # 60 replicas must fit the 2 logical CPUs Ray sees here
            ray_actor_options={"num_cpus": 0.01},
        ).bind(args.latency_ms / 1000)
        serve.run(app, name=name, route_prefix=f"/v2/models/{name}", blocking=False)
    print("READY", json.dumps(autoscaling), flush=True)
    tmp = args.status_file + ".tmp"
    while not stop:
        try:
            row = {"t": time.time(), "models": counts()}
        except Exception as error:
            row = {"t": time.time(), "error": repr(error)}
        with open(tmp, "w") as f:
            json.dump(row, f)
        os.replace(tmp, args.status_file)
        time.sleep(0.5)
    serve.shutdown()
    ray.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
