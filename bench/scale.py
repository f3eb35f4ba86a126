"""Scale of the control plane: thousands of replicas on the simulated runtime (issue 8 §6).

For each size (replicas; 10 per deployment), a control plane runs with `--runtime simulated` (replicas
without processes) and ten NodePools; the bench measures, through the real API:
- apply: one `POST /api/v1/apply` carrying every deployment;
- placed / ready: from the apply until every replica has a pool, then until every one is ready
  (the deployment controller creating them, the scheduler placing them, the node agent starting them;
  counted in the database, read-only, so that polling does not load the control plane);
- list p50 / p99: `GET /api/v1/replicas` with every replica, 20 times (p99 of 20: the slowest); an
  answer cut off is counted as a failure, not timed;
- memory: the control plane's resident set once everything is ready.
Then the control plane is stopped with SIGTERM (replicas stay in the store) and one pass of each loop
is timed in this process on the same store, converged: the deployment controller over every
deployment, the scheduler, and the node agent (its second tick, the steady state). Medians of
`--passes` passes. Writes its section of bench/RESULTS.md.

    python bench/scale.py --sizes 100,1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelplane.controllers import deployments  # noqa: E402
from modelplane.controllers.scheduling import Scheduling  # noqa: E402
from modelplane.runtime import NodeAgent, SimulatedRuntime  # noqa: E402
from modelplane.store import Store  # noqa: E402

SECTION = "## Control-plane scale (bench/scale.py)"
PER_DEPLOYMENT = 10
POOLS = 10
DEPLOYMENT = """---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: {name}}}
spec:
  model: {{format: simulated}}
  replicas: {replicas}
"""
POOL = """---
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {{name: {name}}}
spec:
  capacity: {{cpu: 10m}}
"""


def _request(method: str, url: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/yaml")
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1.0)  # each look lists every replica: looking often would slow what is measured


def through_the_api(replicas: int, state: Path) -> dict[str, float]:
    argv = [sys.executable, "-m", "modelplane.cli.main", "controlplane", "--state-dir", str(state)]
    argv += ["--port", "0", "--runtime", "simulated"]
    log = open(state.parent / f"controlplane-{replicas}.log", "w+b")  # noqa: SIM115 - closed below
    env = {**os.environ, "MODELPLANE_GPUS": "[]", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        api = ""

        def listening() -> bool:
            nonlocal api
            found = re.search(rb"listening on (http://\S+)", Path(log.name).read_bytes())
            api = found.group(1).decode() if found else ""
            return bool(api) or process.poll() is not None

        _wait(listening, timeout=60, what="the control plane to listen")
        if not api:
            raise SystemExit(Path(log.name).read_text()[-3000:])
        text = "".join(POOL.format(name=f"pool-{i}") for i in range(POOLS))
        text += "".join(
            DEPLOYMENT.format(name=f"d{i}", replicas=PER_DEPLOYMENT)
            for i in range(replicas // PER_DEPLOYMENT)
        )
        started = time.perf_counter()
        _request("POST", f"{api}/api/v1/apply", text.encode())
        result = {"apply": time.perf_counter() - started}
        db = sqlite3.connect(f"file:{state / 'state.db'}?mode=ro", uri=True)

        def count(condition: str) -> bool:
            # read from the database, not the API: polling a list of every replica would load the
            # control plane being measured
            query = f"SELECT count(*) FROM objects WHERE kind = 'Replica' AND {condition}"
            return int(db.execute(query).fetchone()[0]) >= replicas

        _wait(lambda: count("json_extract(spec, '$.pool') IS NOT NULL"), timeout=1800, what="placement")
        result["placed"] = time.perf_counter() - started
        _wait(lambda: count("json_extract(status, '$.ready') = 1"), timeout=1800, what="readiness")
        result["ready"] = time.perf_counter() - started
        db.close()
        samples = []
        failed = 0
        while len(samples) < 20 and failed < 20:
            one = time.perf_counter()
            try:  # the answer read whole, not decoded: the client's JSON decoding is not the API's time
                with urllib.request.urlopen(f"{api}/api/v1/replicas", timeout=600) as response:
                    response.read()
            except (OSError, http.client.HTTPException):
                failed += 1  # counted, not timed
                continue
            samples.append(time.perf_counter() - one)
        result["list failures"] = failed
        samples.sort()
        result["list p50"] = statistics.median(samples)
        result["list p99"] = samples[-1]  # of 20: the slowest
        result["rss MiB"] = _rss_mib(process.pid)
        return result
    finally:
        process.send_signal(signal.SIGTERM)  # the replicas stay in the store for the passes below
        process.wait(timeout=120)
        log.close()


def one_pass_each(state: Path, passes: int) -> dict[str, float]:
    store = Store(state)
    rng = random.Random(1)
    scheduling = Scheduling(store, rng=rng)
    agent = NodeAgent(store, runtime=SimulatedRuntime())

    def reconcile_all() -> None:
        deployments.reconcile_all(store, now=time.time(), rng=rng, logs_dir=state / "logs")

    async def node_tick() -> None:
        await agent.tick(now=time.time())
        pending = [t for t in (*agent.ticking.values(), *agent.stopping.values()) if not t.done()]
        await asyncio.gather(*pending)

    asyncio.run(node_tick())  # the first tick takes every replica on; the ones after are the steady state
    timings: dict[str, list[float]] = {"deployments pass": [], "scheduler pass": [], "node pass": []}
    for _ in range(passes):
        for name, step in (
            ("deployments pass", reconcile_all),
            ("scheduler pass", lambda: scheduling.run_once(now=time.time())),
            ("node pass", lambda: asyncio.run(node_tick())),
        ):
            started = time.perf_counter()
            step()
            timings[name].append(time.perf_counter() - started)
    store.close()
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="replica counts, comma-separated")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    rows = []
    for replicas in [int(size) for size in args.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix=f"mp-bench-scale-{replicas}-"))
        api = through_the_api(replicas, work / "state")
        passes = one_pass_each(work / "state", args.passes)
        numbers = {**api, **passes}
        print(replicas, json.dumps({k: round(v, 3) for k, v in numbers.items()}), flush=True)
        rows.append(
            f"| {replicas:,} | {replicas // PER_DEPLOYMENT:,} | {numbers['apply']:.2f} | "
            f"{numbers['placed']:.1f} | {numbers['ready']:.1f} | {numbers['deployments pass']:.2f} | "
            f"{numbers['scheduler pass']:.2f} | {numbers['node pass']:.2f} | "
            f"{numbers['list p50'] * 1000:.0f} | {numbers['list p99'] * 1000:.0f} | "
            f"{numbers['rss MiB']:.0f} | {numbers['list failures']:.0f} |"
        )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    text = "\n".join(
        [
            SECTION,
            "",
            f"{commit.stdout.strip()} (+ working tree), {time.strftime('%Y-%m-%d')}, simulated runtime, "
            f"{PER_DEPLOYMENT} replicas per deployment, {POOLS} NodePools; seconds unless marked. "
            "apply: one POST with every deployment; placed/ready: from the apply until every replica "
            "has a pool / is ready; passes: one converged pass of each loop, median of "
            f"{args.passes}; list: GET /api/v1/replicas, 20 times; RSS of the control plane.",
            "",
            "| replicas | deployments | apply | placed | ready | deployments pass | scheduler pass "
            "| node pass | list p50 ms | list p99 ms | RSS MiB | list failures |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        write_section(ROOT / "bench" / "RESULTS.md", SECTION, text)


if __name__ == "__main__":
    main()
