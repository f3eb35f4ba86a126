"""Benchmark `modelplane loadtest` itself: can one process offer >= 3,000 req/s on this machine (issue 9 §4)?

The target is as cheap as an HTTP endpoint gets, so what is measured is the generator: `--serve` runs
an OIP v2 echo (uvloop + httptools, one process, a fixed 200 answer; GET /v2/models/NAME gives the
metadata the load tester builds its body from). Rows:

- `direct`: the real CLI (`python -m modelplane.cli.main loadtest echo --rate R`), open loop, constant
  arrivals, straight at the echo (no router), at several rates;
- `router`: the same through a real modelplane router (file mode) in front of the echo, at 3,000 req/s:
  then the router, the echo and the generator share the 2 cores.

Per row: offered and served req/s (per second of the run), errors, p50/p99 latency from the intended
send time, the generator's send lag p99 (how late it sent; large = the generator, not the target, fell
behind) and its CPU per request. Each configuration runs `--reps` times, round-robin, medians shown.
Writes the `## Load generator` section of bench/RESULTS.md.

    python bench/loadtest.py                       # ~2 min
    python bench/loadtest.py --reps 1 --duration 3 # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Load generator (bench/loadtest.py)"
_ANSWER = b'{"model_name":"echo","outputs":[{"name":"output0","shape":[1],"datatype":"FP64","data":[1.0]}]}'
_METADATA = (
    b'{"name":"echo","platform":"bench","inputs":[{"name":"input0","datatype":"FP32","shape":[-1,4]}]}'
)


def serve(port: int) -> None:
    """The OIP echo: every POST gets _ANSWER, every GET the metadata."""
    import httptools
    import uvloop

    post = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(_ANSWER),
        _ANSWER,
    )
    get = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(_METADATA),
        _METADATA,
    )

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_complete(self) -> None:
            self.transport.write(post if self.parser.get_method() == b"POST" else get)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", port, backlog=4096)
        print(
            f"modelplane echo listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True
        )
        await asyncio.Event().wait()

    uvloop.run(main())


def start(command: list[str], what: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on http://" in line:
            return proc, int(line.rsplit(":", 1)[1].strip().rstrip("/"))
    sys.exit(f"{what} did not start")


def endpoints(scratch: Path, port: int) -> Path:
    path = scratch / "endpoints.json"
    table = {
        "resourceVersion": 1,
        "deployments": [
            {
                "namespace": "default",
                "name": "echo",
                "concurrency": None,
                "traffic": [{"version": "v1", "weight": 100}],
                "endpoints": [
                    {"replica": "echo-0", "version": "v1", "address": f"127.0.0.1:{port}", "ready": True}
                ],
            }
        ],
    }
    path.write_text(json.dumps(table))
    return path


def loadtest(port: int, rate: float, args: argparse.Namespace, out: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "modelplane.cli.main", "loadtest", "echo", "--rate", str(rate)]
    command += ["-d", str(args.duration), "--ingress", f"http://127.0.0.1:{port}", "-o", str(out)]
    command += ["--no-replicas", "--no-plot", "-q"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    report = json.loads(out.read_text())
    totals = report["targets"][0]["totals"]
    generator = report["generator"]
    return {
        "offered": totals["offeredPerSecond"],
        "served": totals["servedPerSecond"],
        "errors": totals["errors"],
        "p50": totals["latencyMs"]["p50"] or 0.0,
        "p99": totals["latencyMs"]["p99"] or 0.0,
        "lag99": generator["sendLagMs"]["p99"] or 0.0,
        "cpu_us": generator["cpuSeconds"] / max(1, totals["offered"]) * 1e6,
        "cpu_pct": generator["cpuSeconds"] / report["duration"] * 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", type=int, default=None, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--rates", default="1000,3000,5000,8000")
    parser.add_argument("--router-rate", type=float, default=3000)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    rates = [float(r) for r in args.rates.split(",")]
    echo, echo_port = start([sys.executable, __file__, "--serve", "0"], "the echo")
    procs = [echo]
    results: dict[tuple[str, float], list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="modelplane-bench-loadtest-") as tmp:
            scratch = Path(tmp)
            routing = [sys.executable, "-m", "modelplane.cli.routing", "--endpoints-file"]
            router, router_port = start(
                [*routing, str(endpoints(scratch, echo_port)), "--port", "0", "--log-level", "warning"],
                "the router",
            )
            procs.append(router)
            time.sleep(1)  # the router reads its table once it listens
            configs = [("direct", echo_port, r) for r in rates] + [("router", router_port, args.router_rate)]
            for rep in range(args.reps):
                for path, port, rate in configs:
                    run = loadtest(port, rate, args, scratch / "report.json")
                    results.setdefault((path, rate), []).append(run)
                    print(f"rep {rep + 1} {path} {rate:.0f}: {run}", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    section = summarise(results, args)
    write_section(args.out, SECTION, section)
    print(section)


def summarise(results: dict[tuple[str, float], list[dict[str, float]]], args: argparse.Namespace) -> str:
    lines = [
        SECTION,
        "",
        "Written by `python bench/loadtest.py` (see its docstring): the real `modelplane loadtest` CLI, one "
        f"process, open loop, constant arrivals, {args.duration:g} s per run, {args.reps} runs per row taken "
        "round-robin, medians (errors summed). The target is a bare OIP echo (uvloop + httptools), so the "
        "generator is what is measured; `router` rows go through a real modelplane router in front of it. "
        f"The machine has {os.cpu_count()} cores, shared with the target (and the router) and with other "
        "work running at the same time: the numbers are noisy, and the generator's own CPU per request is "
        "the steadiest of them. Latency is from each request's intended send time.",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| path | asked req/s | offered req/s | served req/s | errors | p50 ms | p99 ms | send lag p99 ms "
        "| generator CPU µs/req | generator CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (path, rate), runs in results.items():

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        errors = int(sum(r["errors"] for r in runs))
        lines.append(
            f"| {path} | {rate:.0f} | {med('offered'):.0f} | {med('served'):.0f} | {errors} "
            f"| {med('p50'):.2f} | {med('p99'):.2f} | {med('lag99'):.2f} | {med('cpu_us'):.0f} "
            f"| {med('cpu_pct'):.0f} |"
        )
    met = [
        rate
        for (path, rate), runs in results.items()
        if path == "direct"
        and statistics.median(r["offered"] for r in runs) >= 0.99 * rate
        and statistics.median(r["lag99"] for r in runs) < 20
    ]
    best = max(met, default=0)
    verdict = "met" if best >= 3000 else "NOT met"
    lines += [
        "",
        f"Against issue 9 §4 (one process offers >= 3,000 req/s): {verdict}; up to {best:.0f} req/s were "
        "offered on schedule (send lag p99 < 20 ms) in these runs. The generator's CPU per request falls "
        "with the rate (fixed costs per second: the ticker, the schedule's 10 ms slices).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
