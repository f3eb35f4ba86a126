"""The seed's spike scenario (issue 9 §5), measured on modelplane and, in the same run, on Ray Serve.

    python bench/spike.py                                  # modelplane only, one rep
    python bench/spike.py --systems modelplane,ray-default,ray-tuned --reps 3 \
        --ray-python /path/to/venv-with-ray/bin/python
    python bench/spike.py --short                          # the 30 s version `make demo` ends with

Three simulated-accelerator models (examples/spike/spike.yaml: 200 ms per call, one call at a time
per replica, so each replica adds 5 req/s) at 2 replicas each, autoscaled 2..20 on concurrency. The
load (modelplane.loadtest, open loop, latency from the intended send time) is --base req/s in total
(split evenly), then --factor times that for --for seconds from --at, then --base again for --after.

Per system and rep: the loadtest JSON report and PNG (offered/served, errors, p50/p99, ready and
desired replicas per model) under --out, and a summary line per model:
- t90: seconds from the step until served >= 90% of offered (3 seconds in a row), per model;
- needed ready: seconds from the step until ready replicas >= the replicas the spike needs
  (ceil(spike rate x latency): every replica busy all the time);
- failed requests (anything but a 200), p99 during the spike (max and median of per-second p99s);
- scale-down: seconds from the end of the spike until the replicas are back at minReplicas.
The machine's load average is recorded beside each rep. Ray Serve runs through bench/spike_ray.py
with --ray-python (a venv with ray[serve]; not a modelplane dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from modelplane.cli.client import ApiClient
from modelplane.cli.loadtesting import replica_reader
from modelplane.loadtest.plotting import plot
from modelplane.loadtest.profiles import make_profile
from modelplane.loadtest.report import build_report, write_json
from modelplane.loadtest.running import Plan, Progress, ReplicaReader, Target, run

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "spike" / "spike.yaml"
MODELPLANE = [sys.executable, "-m", "modelplane.cli.main"]  # the running venv's modelplane
MODELS = ("sentiment", "intent", "embed")
LATENCY_S = 0.200  # examples/spike/spike.yaml: params.latencyMs
CONCURRENCY = 32
MIN_REPLICAS = 2
BODY = orjson.dumps(
    {"inputs": [{"name": "input0", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
)


def modelplane_cli(state: Path, *args: str, timeout: float = 120) -> str:
    env = {**os.environ, "MODELPLANE_STATE_DIR": str(state)}
    done = subprocess.run(
        [*MODELPLANE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def load_plan(address: str, args: argparse.Namespace) -> Plan:
    duration = args.at + args.hold + args.after
    profile = make_profile(
        "spike", duration=duration, rate=args.base, to=args.base * args.factor, at=args.at, hold=args.hold
    )
    targets = tuple(Target("default", name, 1.0, BODY) for name in MODELS)
    return Plan(targets=targets, profile=profile, address=address, timeout=30.0, max_connections=2048)


def printer(label: str) -> Any:
    def show(progress: Progress) -> None:
        if int(progress.elapsed) % 5 == 0:
            parts = [
                f"{t} {s.offered}/{s.served}/{s.errors} r{s.ready}/{s.desired}"
                for t, s in zip(MODELS, progress.last, strict=True)
            ]
            print(f"  [{label} {progress.elapsed:4.0f}s] " + "  ".join(parts), flush=True)

    return show


def run_modelplane(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="spike-mp-"))
    modelplane_cli(state, "up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0")
    try:
        record = json.loads((state / "up.json").read_text())
        api, ingress = record["api"], record["ingress"]
        token = (state / "token").read_text().strip() or None
        client = ApiClient(server=api, token=token)
        modelplane_cli(state, "apply", "-f", str(args.spec))

        def all_ready() -> bool:
            for name in MODELS:
                status = client.get(f"/api/v1/modeldeployments/default/{name}").get("status") or {}
                if (status.get("readyReplicas") or 0) < MIN_REPLICAS:
                    return False
            return True

        wait_until(all_ready, 120, "2 ready replicas per model")
        time.sleep(3)  # a few metric pushes at rest before the load
        plan = load_plan(ingress.split("://", 1)[1], args)
        outcome = asyncio.run(
            run(plan, read_replicas=replica_reader(client), on_second=printer("modelplane"))
        )
        report = build_report(plan, outcome, router=ingress)
        events = modelplane_cli(state, "get", "events")
        (out.with_suffix(".events.txt")).write_text(events)
        return report
    finally:
        modelplane_cli(state, "down", timeout=180)


def ray_reader(status_file: Path) -> ReplicaReader:
    async def read(target: Target) -> tuple[int | None, int | None]:
        row = json.loads(status_file.read_text())
        model = row.get("models", {}).get(target.name)
        if model is None:
            raise RuntimeError(row.get("error", "no status"))
        return int(model["running"]), int(model["wanted"])

    return read


def run_ray(args: argparse.Namespace, variant: str, out: Path) -> dict[str, Any]:
    if not args.ray_python:
        raise SystemExit("--ray-python is needed for the Ray Serve runs (a venv with ray[serve])")
    status_file = Path(tempfile.mkdtemp(prefix="spike-ray-")) / "status.json"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_worker_niceness": "0"}
    log = out.with_suffix(".ray.log").open("w")
    proc = subprocess.Popen(
        [
            args.ray_python,
            str(ROOT / "bench" / "spike_ray.py"),
            "--port",
            str(args.ray_port),
            "--latency-ms",
            str(LATENCY_S * 1000),
            "--concurrency",
            str(CONCURRENCY),
            "--variant",
            variant,
            "--status-file",
            str(status_file),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"Ray Serve did not start (see {log.name}): {line!r}")
        print(f"  ray {variant}: {line.strip()}", flush=True)

        def ready() -> bool:
            try:
                models = json.loads(status_file.read_text()).get("models", {})
            except (OSError, ValueError):
                return False
            return all(models.get(m, {}).get("running", 0) >= MIN_REPLICAS for m in MODELS)

        wait_until(ready, 180, "Ray Serve: 2 running replicas per model")
        time.sleep(3)
        plan = load_plan(f"127.0.0.1:{args.ray_port}", args)
        outcome = asyncio.run(
            run(plan, read_replicas=ray_reader(status_file), on_second=printer(f"ray-{variant}"))
        )
        return build_report(plan, outcome, router=f"http://127.0.0.1:{args.ray_port}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def analyse(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    at, end = int(args.at), int(args.at + args.hold)
    spike_per_model = args.base * args.factor / len(MODELS)
    needed = math.ceil(spike_per_model * LATENCY_S)
    per_model: dict[str, Any] = {}
    for target in report["targets"]:
        secs = target["seconds"]
        t90 = None
        for i in range(at, min(end, len(secs)) - 2):
            if all(secs[j]["served"] >= 0.9 * secs[j]["offered"] for j in range(i, i + 3)):
                t90 = i + 1 - at  # the end of that second, from the step
                break
        t_needed = next(
            (
                s["t"] + 1 - at
                for s in secs[at:end]
                if s["readyReplicas"] is not None and s["readyReplicas"] >= needed
            ),
            None,
        )
        first_decision = next(
            (s["t"] + 1 - at for s in secs[at:] if (s["desiredReplicas"] or 0) > MIN_REPLICAS), None
        )
        peak_ready = max((s["readyReplicas"] or 0) for s in secs)
        down = next(
            (
                s["t"] - end
                for s in secs[end:]
                if s["readyReplicas"] == MIN_REPLICAS
                and (s["desiredReplicas"] or MIN_REPLICAS) == MIN_REPLICAS
            ),
            None,
        )
        p99s = [s["p99Ms"] for s in secs[at:end] if s["p99Ms"] is not None]
        after_errors = sum(s["errors"] for s in secs[end:])
        per_model[target["name"]] = {
            "t90_s": t90,
            "needed": needed,
            "needed_ready_s": t_needed,
            "first_decision_s": first_decision,
            "peak_ready": peak_ready,
            "failed": target["totals"]["errors"],
            "errors_by_kind": target["totals"]["errorsByKind"],
            "errors_after_spike": after_errors,
            "p99_spike_max_ms": max(p99s) if p99s else None,
            "p99_spike_median_ms": statistics.median(p99s) if p99s else None,
            "scale_down_s": down,
        }
    return per_model


def summarise(system: str, rep: int, result: dict[str, Any], load: tuple[float, float, float]) -> str:
    lines = [f"{system} rep {rep} (load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}):"]
    for name, r in result.items():
        lines.append(
            f"  {name}: t90 {r['t90_s']} s, {r['needed']} ready after {r['needed_ready_s']} s, "
            f"first decision {r['first_decision_s']} s, peak ready {r['peak_ready']}, "
            f"failed {r['failed']} {r['errors_by_kind']}, "
            f"p99 spike max {r['p99_spike_max_ms']} ms median {r['p99_spike_median_ms']} ms, "
            f"back to {MIN_REPLICAS} {r['scale_down_s']} s after the spike"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="modelplane", help="comma list: modelplane, ray-default, ray-tuned")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--base", type=float, default=15.0, help="total req/s before and after the spike")
    ap.add_argument("--factor", type=float, default=10.0)
    ap.add_argument("--at", type=float, default=15.0, help="seconds of steady load before the step")
    ap.add_argument("--for", dest="hold", type=float, default=60.0, help="seconds of spike")
    ap.add_argument("--after", type=float, default=90.0, help="seconds of steady load after the spike")
    ap.add_argument(
        "--short", action="store_true", help="the demo's version: 6 req/s, 10x for 20 s from 10 s, 10 s after"
    )
    ap.add_argument("--spec", type=Path, default=SPEC, help="modelplane's spec (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spike")
    ap.add_argument("--ray-python", default=os.environ.get("RAY_PYTHON"))
    ap.add_argument("--ray-port", type=int, default=8000)
    args = ap.parse_args()
    if args.short:
        args.base, args.at, args.hold, args.after = 6.0, 10.0, 20.0, 10.0
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, list[dict[str, Any]]] = {}
    for rep in range(1, args.reps + 1):
        for system in args.systems.split(","):
            path = args.out / f"spike-{stamp}-{system}-{rep}.json"
            load = os.getloadavg()
            print(f"{system} rep {rep}: load average {load[0]:.2f}", flush=True)
            if system == "modelplane":
                report = run_modelplane(args, path)
            elif system.startswith("ray-"):
                report = run_ray(args, system.removeprefix("ray-"), path)
            else:
                raise SystemExit(f"unknown system {system!r}")
            write_json(report, path)
            plot(report, path.with_suffix(".png"))
            result = analyse(report, args)
            results.setdefault(system, []).append({"rep": rep, "loadavg": load, "models": result})
            print(summarise(system, rep, result, load), flush=True)
            print(f"  report: {path}\n  plot: {path.with_suffix('.png')}", flush=True)
    summary = args.out / f"spike-{stamp}-summary.json"
    summary.write_text(json.dumps(results, indent=1))
    print(f"summary: {summary}")


if __name__ == "__main__":
    main()
