"""Isolation: does a replica that blows through its memory limit hurt another deployment's latency?

Starts a local control plane (`modelplane up`), deploys `accel` (simulated 5 ms accelerator) and
measures its latency through the router with wrk (8 connections, 15 s) — then applies `hog`, a
replica whose model allocates 400 MiB under a 200Mi / 500m limit, so it is OOMKilled and restarted
with CrashLoopBackOff, and measures `accel` again while that happens. Three rounds each, medians.
Issue 3's target: accel's p99 stays within 20% of its value before. Writes its section of
bench/RESULTS.md.

    python bench/isolation.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Isolation under an OOM-killed neighbour (bench/isolation.py)"
CLI = [sys.executable, "-m", "modelplane.cli.main"]
BODY = json.dumps({"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]})
LUA = """
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, latency:percentile(50),
    latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read))
end
"""
ACCEL = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated, params: {latencyMs: 5}}
  batching: {maxBatchSize: 32, maxLatencyMs: 1}
  resources: {limits: {cpu: "1", memory: 512Mi}}
  probes: {readiness: {periodSeconds: 1}}
"""
HOG = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: hog}
spec:
  model: {uri: ./hog.py:Hog, format: python}
  resources: {limits: {cpu: 500m, memory: 200Mi}}
"""
HOG_CODE = """
class Hog:
    def load(self):
        self.block = bytearray(400 * 1024 * 1024)
        for i in range(0, len(self.block), 4096):
            self.block[i] = 1

    def predict(self, inputs):
        return inputs
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wrk(url: str, lua: Path, seconds: int) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True,
        text=True,
        env={**os.environ, "WRK_BODY": BODY},
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    requests, p50, p99, errors = (int(v) for v in line.split()[1:])
    return {"rps": requests / seconds, "p50_ms": p50 / 1000, "p99_ms": p99 / 1000, "errors": errors}


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="modelplane-isolation-"))
    state = work / "state"
    (work / "accel.yaml").write_text(textwrap.dedent(ACCEL))
    (work / "hog.yaml").write_text(textwrap.dedent(HOG))
    (work / "hog.py").write_text(textwrap.dedent(HOG_CODE))
    lua = work / "post.lua"
    lua.write_text(LUA)
    started = cli("up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0")
    if started.returncode != 0:
        raise SystemExit(started.stderr)
    urls = json.loads((state / "up.json").read_text())
    api, ingress = urls["api"], urls["ingress"]
    try:
        cli("apply", "-f", str(work / "accel.yaml"), "--server", api)

        def replicas(name: str) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = get(api + "/api/v1/replicas")["items"]
            return [r for r in items if r["spec"]["deployment"] == name]

        wait(lambda: any(r["status"].get("ready") for r in replicas("accel")), 60, "accel ready")
        target = ingress + "/v2/models/accel/infer"
        wrk(target, lua, 5)  # warm-up
        before = [wrk(target, lua, 15) for _ in range(3)]
        cli("apply", "-f", str(work / "hog.yaml"), "--server", api)
        wait(lambda: bool(replicas("hog")) and replicas("hog")[0]["status"].get("pid"), 60, "hog started")
        during = [wrk(target, lua, 15) for _ in range(3)]
        hog = replicas("hog")[0]["status"]
    finally:
        cli("down", "--state-dir", str(state))
    med = {
        phase: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        for phase, runs in (("before", before), ("during", during))
    }
    ratio = med["during"]["p99_ms"] / med["before"]["p99_ms"]
    last = hog.get("lastExit") or {}
    lines = [
        SECTION,
        "",
        "accel (simulated 5 ms, limits cpu 1 / 512Mi) through the router, wrk 8 connections, 3 × 15 s per "
        "phase, medians; `during` = while `hog` (allocates 400 MiB under a 200Mi / 500m limit) is "
        "OOMKilled and restarted with CrashLoopBackOff.",
        "",
        "| phase | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for phase, runs in (("before", before), ("during", during)):
        m = med[phase]
        errors = sum(int(r["errors"]) for r in runs)
        lines.append(f"| {phase} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {errors} |")
    verdict = "met" if ratio <= 1.2 else "NOT met"
    lines += [
        "",
        f"hog at the end: restarts {hog.get('restarts')}, last exit {last.get('reason')} "
        f"({last.get('code')}), limits enforced: {hog.get('limitsEnforced')}.",
        f"accel p99 during / before = {ratio:.2f} (target <= 1.20): {verdict}.",
    ]
    text = "\n".join(lines) + "\n"
    write_section(ROOT / "bench" / "RESULTS.md", SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
