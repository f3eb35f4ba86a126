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

`--floor` measures the per-request path instead (~4 min): modelplane's iris model without batching
and with zero-delay batching against the bare floor (bench/floor.py, uvloop + httptools + orjson +
scikit-learn, the same model file), all servers up at once and the wrk runs alternating between them
rep by rep, at 1, 4 and 64 connections; medians of the reps, ratios within the run, and the server's
CPU time per request (from /proc). `--profile` adds a py-spy profile of the unbatched server at 64
connections (pip install -e .[bench]).

    python bench/server.py --floor [--reps 5 --duration 5] [--profile] [--before TREE]

`--before TREE` adds `nobatch-before` and `batch0-before`: those targets served from another source tree (e.g.
`git archive <commit> modelplane | tar -x -C /tmp/before`), for a before/after ratio in one run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HARNESS = ROOT.parent / "shared" / "peers"
SCRATCH = Path(os.environ.get("MODELPLANE_BENCH_SCRATCH", "/tmp/modelplane-bench"))
PEERS = ["kserve", "bentoml", "ray-serve-mo64", "ray-serve", "floor-raw", "floor-starlette"]
IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
SECTION = "## Model server (bench/server.py)"
FLOOR_SECTION = "## Model server: the per-request path against the floor (bench/server.py --floor)"


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


# --floor: the per-request path against the bare floor


FLOOR_LUA = r"""
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format('BENCH_JSON {"requests": %d, "duration_us": %d, "bad_status": %d, ' ..
      '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n', summary.requests, summary.duration, e.status,
      e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
LISTENING = re.compile(r"listening on (?:http://)?[\d.]+:(\d+)")
V2_ROW = {"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": IRIS_ROW}]}
V2_LABEL = {**V2_ROW, "outputs": [{"name": "label"}]}
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Rep:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_req: float


@dataclass
class Row:
    """One target at one connection count: every rep of the run."""

    target: str
    connections: int
    reps: list[Rep] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(r, attribute) for r in self.reps))


@dataclass
class FloorTarget:
    name: str
    what: str
    command: list[str]
    path: str
    body: dict[str, Any]
    source: Path = ROOT  # the tree whose modelplane package serves
    proc: subprocess.Popen[str] | None = None
    port: int = 0
    lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, "PYTHONPATH": str(self.source)},
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 120
        while self.port == 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{self.name} did not start:\n{''.join(self.lines)}")
            time.sleep(0.05)
        body = json.dumps(self.body).encode()
        while True:  # ready once it answers a request
            try:
                request = urllib.request.Request(
                    self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{self.name} never answered:\n{''.join(self.lines)}")
            time.sleep(0.1)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and self.port == 0:
                self.port = int(match.group(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def cpu_s(self) -> float:
        """The server process's user + system CPU time so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def floor_targets(python: str, before: Path | None) -> list[FloorTarget]:
    # `modelplane serve` itself, imported without the rest of the CLI
    # -P: not the working directory first on sys.path, so PYTHONPATH picks the tree (--before) that serves
    serve = [
        python,
        "-P",
        "-c",
        "from modelplane.cli.serving import serve; serve(prog_name='modelplane serve')",
    ]
    spec = ROOT / "bench" / "specs"
    infer = "/v2/models/iris/infer"
    mp = [*serve, "--port", "0", "--log-level", "error", "-f"]
    targets = [
        FloorTarget(
            "floor",
            "BASELINE bench/floor.py: uvloop + httptools + orjson + sklearn predict, nothing else",
            [python, str(ROOT / "bench" / "floor.py"), "--port", "0"],
            "/predict",
            {"features": IRIS_ROW},
        ),
        FloorTarget(
            "nobatch",
            "modelplane, no batching, OIP v2 asking for `label` (the same predict as the floor)",
            [*mp, str(spec / "iris-nobatch.yaml")],
            infer,
            V2_LABEL,
        ),
        FloorTarget(
            "nobatch-all",
            "modelplane, no batching, OIP v2 naming no output (label and probabilities: two sklearn calls)",
            [*mp, str(spec / "iris-nobatch.yaml")],
            infer,
            V2_ROW,
        ),
        FloorTarget(
            "batch0",
            "modelplane, zero-delay batching (maxBatchSize 64, maxLatencyMs 0), OIP v2 asking for `label`",
            [*mp, str(spec / "iris-batch0.yaml")],
            infer,
            V2_LABEL,
        ),
    ]
    if before is not None:
        for name in ("nobatch", "batch0"):
            what = f"`{name}` served by the modelplane package of {before} (before this change)"
            command = [*mp, str(spec / f"iris-{name}.yaml")]
            targets.append(FloorTarget(f"{name}-before", what, command, infer, V2_LABEL, source=before))
    return targets


def floor_wrk(target: FloorTarget, connections: int, seconds: int, script: Path) -> Rep:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), target.url]
    cpu = target.cpu_s()
    env = {**os.environ, "WRK_BODY": json.dumps(target.body)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    cpu = target.cpu_s() - cpu
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no result against {target.name}:\n{out}")
    doc = json.loads(line.removeprefix("BENCH_JSON "))
    requests = max(1, int(doc["requests"]))
    return Rep(
        rps=doc["requests"] / (doc["duration_us"] / 1e6),
        p50_ms=doc["p50_us"] / 1000,
        p99_ms=doc["p99_us"] / 1000,
        errors=int(doc["bad_status"]) + int(doc["socket_errors"]),
        cpu_ms_per_req=1000 * cpu / requests,
    )


def run_floor(args: argparse.Namespace) -> tuple[list[FloorTarget], list[Row], str]:
    subprocess.run([sys.executable, str(ROOT / "examples" / "build_models.py")], check=True)
    profile = ""
    with tempfile.TemporaryDirectory() as scratch:
        targets = floor_targets(sys.executable, args.before)
        rows = {(t.name, c): Row(t.name, c) for c in args.connections for t in targets}
        script = Path(scratch) / "post.lua"
        script.write_text(FLOOR_LUA)
        try:
            for target in targets:
                target.start()
                floor_wrk(target, 64, args.warmup, script)  # warm-up: caches, the model's call-time mean
            for rep in range(args.reps):
                for connections in args.connections:
                    # alternate the order rep by rep, so no target always runs right after another
                    order = targets if rep % 2 == 0 else targets[::-1]
                    for target in order:
                        result = floor_wrk(target, connections, args.duration, script)
                        rows[(target.name, connections)].reps.append(result)
                        print(
                            f"rep {rep + 1} c{connections:<3} {target.name:12} {result.rps:8.0f} req/s  "
                            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                            f"cpu {result.cpu_ms_per_req:.3f} ms/req  errors {result.errors}",
                            flush=True,
                        )
            if args.profile:
                profile = profile_target(targets[1], script, args.duration)
        finally:
            for target in targets:
                target.stop()
    return targets, list(rows.values()), profile


def profile_target(target: FloorTarget, script: Path, seconds: int) -> str:
    """py-spy's view of one server under 64 connections: the share of samples per function."""
    assert target.proc is not None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = Path(script.parent) / "profile.txt"
    load = threading.Thread(target=floor_wrk, args=(target, 64, seconds + 2, script))
    load.start()
    time.sleep(1)
    command = [spy, "record", "-p", str(target.proc.pid), "-d", str(seconds), "-r", "200", "-f", "raw"]
    subprocess.run([*command, "-o", str(raw), "--idle"], check=True, capture_output=True)
    load.join()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        frames = {f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1] for f in stack.split(";")}
        for frame in frames:
            inclusive[frame] += int(count)
    picked = [
        (frame, n)
        for frame, n in inclusive.most_common(80)
        if any(
            k in frame for k in ("modelplane/", "app.py", "http.py", "batching.py", "sklearn", "Runner.run")
        )
        or frame.split(" (")[0] in ("predict", "_worker", "select", "Runner.run")
    ]
    return "\n".join(f"{100 * n / total:5.1f}%  {frame.rstrip(')')}" for frame, n in picked[:25])


def summarise_floor(
    targets: list[FloorTarget], rows: list[Row], profile: str, args: argparse.Namespace
) -> str:
    by = {(r.target, r.connections): r for r in rows}
    lines = [
        FLOOR_SECTION,
        "",
        "Written by `python bench/server.py --floor` (see its docstring). All servers run at once (1 process "
        f"each); wrk closed loop, {args.reps} reps x {args.duration} s per row, the targets alternating "
        "within each rep (order reversed every other rep), medians of each column, errors summed. wrk and "
        "the servers share the machine's 2 cores and other work runs on it: compare the ratios of one run. "
        "CPU ms/req = the server process's user+system time over the run / its requests.",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    lines += [f"- `{t.name}`: {t.what}" for t in targets]
    lines += [
        "",
        "| target | connections | req/s | vs floor | p50 ms | p99 ms | CPU ms/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for connections in args.connections:
        floor = by[("floor", connections)]
        for t in targets:
            r = by[(t.name, connections)]
            ratios = [a.rps / b.rps for a, b in zip(r.reps, floor.reps, strict=True)]
            lines.append(
                f"| {t.name} | {connections} | {r.median('rps'):.0f} | {statistics.median(ratios):.0%} | "
                f"{r.median('p50_ms'):.2f} | {r.median('p99_ms'):.2f} | {r.median('cpu_ms_per_req'):.3f} | "
                f"{sum(x.errors for x in r.reps)} |"
            )
    lines += ["", "`vs floor` is the median over reps of req/s / the floor's req/s in the same rep.", ""]
    top = max(args.connections)
    ours = by.get(("nobatch", top))
    if ours is not None:
        ratio = statistics.median(
            a.rps / b.rps for a, b in zip(ours.reps, by[("floor", top)].reps, strict=True)
        )
        verdict = "met" if ratio >= 0.8 else "NOT met"
        lines.append(
            f"- Issue 8 §3: without batching, modelplane serves {ratio:.0%} of the floor's req/s at {top} "
            f"connections (target >= 80%): {verdict}."
        )
    if profile:
        lines += [
            "",
            f"py-spy (`--profile`, `nobatch` at 64 connections, {args.duration} s, idle samples included; "
            "share of samples in each function and what it calls):",
            "",
            "```",
            profile,
            "```",
        ]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--floor", action="store_true", help="the per-request path against the floor")
    parser.add_argument("--connections", type=lambda v: [int(c) for c in v.split(",")], default=[1, 4, 64])
    parser.add_argument("--profile", action="store_true", help="with --floor: a py-spy profile too")
    parser.add_argument("--before", type=Path, help="with --floor: a source tree to serve nobatch-before")
    args = parser.parse_args()
    if args.floor:
        if shutil.which("wrk") is None:
            sys.exit("wrk is not installed: apt-get install wrk")
        targets, rows, profile = run_floor(args)
        text = summarise_floor(targets, rows, profile, args)
        write_section(args.out, FLOOR_SECTION, text)
        print(text)
        return
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
