"""Benchmark one model-server process against the peers, side by side, and write bench/RESULTS.md.

W1 `tiny`: the iris model (scikit-learn LogisticRegression), one row per request.
W2 `accel`: the simulated accelerator, 20 ms per call whatever the batch, batch <= 32 (ideal 1,600 req/s).

The load is wrk (64 connections, 2 threads, 5 s warm-up + 15 s measured, 3 reps, medians), driven by
the peers' harness (`../shared/peers`, copied to a scratch folder outside the repo) so that modelplane
and Ray Serve, KServe and BentoML are measured by the same code in the same run. modelplane is added
as one more target of that harness; none of the peers' code is imported here.

    python bench/server.py                       # modelplane + peers (~15 min; installs peers' venvs once)
    python bench/server.py --peers none          # modelplane only (~3 min)
    python bench/server.py --reps 1 --duration 5 # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HARNESS = ROOT.parent / "shared" / "peers"
SCRATCH = Path(os.environ.get("MODELPLANE_BENCH_SCRATCH", "/tmp/modelplane-bench"))
PEERS = ["kserve", "bentoml", "ray-serve-mo64", "ray-serve", "floor-raw", "floor-starlette"]
IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
SECTION = "## Model server (bench/server.py)"


def modelplane_target(python: str) -> dict[str, Any]:
    """modelplane as a target of the peers' harness: `modelplane serve` of the shipped examples."""
    spec = ROOT / "examples" / "nlp.yaml"
    serve = f"{python} -m modelplane.cli.main serve -f {spec} --port 9000 --log-level warning --name"
    nobatch = ROOT / "bench" / "specs" / "iris-nobatch.yaml"
    v2_iris = {"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": IRIS_ROW}]}
    return {
        "name": "modelplane",
        "note": "modelplane serve (1 process): OIP v2 infer; examples/nlp.yaml (iris batching <= 64, "
        "maxLatencyMs 0; tiny-nobatch: the same model without batching; accel simulated 20 ms, "
        "batch <= 32, maxLatencyMs 5)",
        "workloads": {
            "tiny": {
                "start": f"{serve} iris",
                "url": "http://127.0.0.1:9000/v2/models/iris/infer",
                "body": v2_iris,
            },
            "tiny-v1": {
                "start": f"{serve} iris",
                "url": "http://127.0.0.1:9000/v1/models/iris:predict",
                "body": {"instances": [IRIS_ROW]},
                "expect": {"predictions": [0]},
            },
            "tiny-nobatch": {
                "start": f"{python} -m modelplane.cli.main serve -f {nobatch} --port 9000 --log-level error",
                "url": "http://127.0.0.1:9000/v2/models/iris/infer",
                "body": v2_iris,
            },
            "accel": {
                "start": f"{serve} accel",
                "url": "http://127.0.0.1:9000/v1/models/accel:predict",
                "body": {"instances": [IRIS_ROW]},
            },
        },
    }


def prepare_harness(source: Path) -> Path:
    """A writable copy of the peers' harness in the scratch folder (re-used: it keeps its venvs)."""
    harness = SCRATCH / "peers"
    if not (harness / "run.py").exists():
        if not source.exists():
            sys.exit(f"the peers' harness is not at {source}; pass --harness PATH.")
        skip = shutil.ignore_patterns(".venvs", "raw", "logs")  # the harness builds its own venvs
        shutil.copytree(source, harness, dirs_exist_ok=True, ignore=skip)
        for path in [harness, *harness.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    return harness


def run(args: argparse.Namespace) -> dict[str, Any]:
    subprocess.run([sys.executable, str(ROOT / "examples" / "build_models.py")], check=True)
    harness = prepare_harness(args.harness)
    targets_file = SCRATCH / "modelplane-target.json"
    targets_file.write_text(json.dumps({"targets": [modelplane_target(sys.executable)]}, indent=1))
    out = SCRATCH / "results.json"
    only = ["modelplane"] + ([] if args.peers == "none" else args.peers.split(","))
    command = [
        sys.executable, str(harness / "run.py"),
        "--targets-file", str(targets_file),
        "--only", ",".join(only),
        "--skip-autoscale", "--fresh", "--out", str(out),
        "--reps", str(args.reps), "--duration", str(args.duration), "--warmup", str(args.warmup),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command, check=True, cwd=harness, env=env)
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _row(name: str, workload: str, w: dict[str, Any]) -> str:
    if w.get("status") != "ok":
        return (
            f"| {name} | {workload} | FAILED ({w.get('phase')}: {str(w.get('reason', ''))[:60]}) | | | | | |"
        )
    m, e = w["median"], w["errors_total"]
    return (
        f"| {name} | {workload} | {m['rps']:.0f} | {m['p50_ms']} | {m['p99_ms']} | "
        f"{e['non2xx'] + e['socket_errors']} | {m['server_cpu_ms_per_req']} | {w.get('ready_s')} |"
    )


def summarise(doc: dict[str, Any], *, args: argparse.Namespace) -> str:
    targets = doc["targets"]
    config = doc["config"]
    lines = [
        SECTION,
        "",
        "Written by `python bench/server.py` (see its docstring). One server process per target, wrk "
        f"closed loop with {config['connections']} connections and {config['threads']} threads, "
        f"{args.warmup} s warm-up + {args.duration} s measured, {args.reps} reps on the same server process, "
        "medians of req/s and of each percentile, errors summed over reps. wrk and the server share the "
        "machine's cores, so absolute numbers are low; compare ratios within one run.",
        "",
        f"Machine: {json.dumps(doc.get('machine', {}))}",
        "",
        "W1 = iris, one row per request; W2 = simulated 20 ms accelerator, batch <= 32. modelplane's `tiny` "
        "serves the iris example as shipped, with dynamic batching (maxBatchSize 64, maxLatencyMs 0: "
        "requests "
        "that arrive while a batch runs are merged into the next); `tiny-v1` is the same over KServe v1; "
        "`tiny-nobatch` is the same model without batching, i.e. the server's per-request cost, to compare "
        "with the peers' one-call-per-request servers.",
        "",
        "| target | workload | req/s | p50 ms | p99 ms | errors | server CPU ms/req | ready s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, target in targets.items():
        for workload, w in target.get("workloads", {}).items():
            lines.append(_row(name, workload, w))
    lines += ["", "### Against the targets of issue 2", ""]
    mp = targets.get("modelplane", {}).get("workloads", {})

    def rps(target: str, workload: str) -> float | None:
        w = targets.get(target, {}).get("workloads", {}).get(workload, {})
        return float(w["median"]["rps"]) if w.get("status") == "ok" else None

    accel = rps("modelplane", "accel")
    if accel is not None:
        verdict = "met" if accel >= 0.9 * 1600 else "NOT met"
        lines.append(
            f"- W2: {accel:.0f} req/s = {accel / 1600:.0%} of the ideal 1,600 (target >= 90%): {verdict}."
        )
    peers = {n: rps(n, "tiny") for n in ("kserve", "bentoml", "ray-serve-mo64", "ray-serve")}
    measured = {n: v for n, v in peers.items() if v is not None}
    tiny = rps("modelplane", "tiny")
    if tiny is not None and measured:
        best = max(measured, key=lambda n: measured[n])
        best_p99 = float(targets[best]["workloads"]["tiny"]["median"]["p99_ms"])
        our_p99 = float(mp["tiny"]["median"]["p99_ms"])
        ratio = tiny / measured[best]
        verdict = "met" if ratio >= 2 and our_p99 < best_p99 else "NOT met"
        lines.append(
            f"- W1: {tiny:.0f} req/s = {ratio:.1f}x the best peer ({best}, {measured[best]:.0f} req/s); "
            f"p99 {our_p99} ms vs {best_p99} ms (target >= 2x with a lower p99): {verdict}."
        )
    elif tiny is not None:
        lines.append("- W1: no peer measured in this run (`--peers none`); no ratio to report.")
    versions = {n: t.get("versions", {}) for n, t in targets.items()}
    versions["modelplane"] = _our_versions()
    lines += ["", f"Versions: {json.dumps(versions)}", ""]
    return "\n".join(lines)


def _our_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("modelplane", "numpy", "scikit-learn", "httptools", "uvloop", "orjson", "prometheus-client"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peer targets, or 'none'")
    parser.add_argument("--harness", type=Path, default=DEFAULT_HARNESS, help="the peers' harness folder")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--from-json", type=Path, help="re-summarise bench/results/server.json")
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    doc = json.loads(args.from_json.read_text()) if args.from_json else run(args)
    if not args.from_json:  # keep the raw numbers of the run beside the table
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / "server.json").write_text(json.dumps(doc, indent=1))
    text = summarise(doc, args=args)
    write_section(args.out, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
