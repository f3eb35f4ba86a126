"""Issue 8 §2: is the hand-written HTTP core worth keeping? One run, alternating, medians of reps.

Servers: the same W1 handler (bench/http_core_apps.py) on
- ours: modelplane/net/http.py (httptools + uvloop), the `full` app being `modelplane serve` itself;
- uvicorn: httptools + uvloop, raw ASGI (no framework), no access log;
- granian: ASGI (and RSGI for the bare app), 1 worker, uvloop.
Apps: `bare` (orjson + one predict inline, no batching) and `full` (modelplane's ModelServer, OIP v2
/v2/models/iris/infer) with batching (examples/nlp.yaml's iris: maxBatchSize 64, maxLatencyMs 0) and
without (bench/specs/iris-nobatch.yaml).
Load: wrk, 2 threads, 64 connections, closed loop (the peers' harness settings); each rep runs every
target once, in a rotated order, after a warm-up. Server CPU per request is read from /proc (all the
processes of the server's session), which the shared machine disturbs less than req/s.

Clients: modelplane/net/client.py's ConnectionPool against aiohttp's ClientSession (keep-alive), same
server (ours, bare), same request count: sequential (one at a time) and concurrent (32 in flight).
Client CPU per request is this process's CPU time over the requests.

    python bench/http_core.py                     # ~8 min: writes bench/RESULTS.md + results/http_core.json
    python bench/http_core.py --pin               # the same, server on one CPU, load on the other
    python bench/http_core.py --reps 1 --duration 3 --no-write   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SECTION = "## HTTP core: ours vs uvicorn vs granian (bench/http_core.py)"
PINNED_SECTION = "## HTTP core, one core per side (bench/http_core.py --pin)"
PIN = {"server": ["taskset", "-c", "1"], "load": ["taskset", "-c", "0"]}
BARE_BODY = {"features": [5.1, 3.5, 1.4, 0.2]}
V2_BODY = {"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}
SPECS = {"batch": ROOT / "examples" / "nlp.yaml", "nobatch": BENCH / "specs" / "iris-nobatch.yaml"}
WRK_LUA = """
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body) if status > 299 then non2xx = non2xx + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration, bad,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Target:
    name: str  # e.g. "ours/bare"
    core: str
    app: str  # bare | batch | nobatch
    command: list[str]
    env: dict[str, str]
    path: str
    body: dict[str, Any]
    port: int
    proc: subprocess.Popen[bytes] | None = None
    runs: list[dict[str, float]] = field(default_factory=list)


def targets(python: str, base_port: int) -> list[Target]:
    out: list[Target] = []
    port = base_port
    granian = [
        str(Path(python).parent / "granian"),
        "--host",
        "127.0.0.1",
        "--workers",
        "1",
        "--loop",
        "uvloop",
    ]
    granian += ["--no-ws", "--log-level", "warning", "--http", "1"]
    for app in ("bare", "nobatch", "batch"):
        env = {
            "HTTP_CORE_APP": "bare" if app == "bare" else "full",
            "HTTP_CORE_SPEC": str(SPECS.get(app, "")),
        }
        env["HTTP_CORE_NAME"] = "iris"
        path, body = ("/predict", BARE_BODY) if app == "bare" else ("/v2/models/iris/infer", V2_BODY)
        for core in ("ours", "uvicorn", "granian", "granian-rsgi"):
            if core == "granian-rsgi" and app != "bare":
                continue
            port += 1
            if core == "ours" and app != "bare":
                command = [
                    python,
                    "-m",
                    "modelplane.cli.main",
                    "serve",
                    "-f",
                    str(SPECS[app]),
                    "--name",
                    "iris",
                ]
                command += ["--port", str(port), "--log-level", "warning"]
            elif core in ("ours", "uvicorn"):
                command = [python, str(BENCH / "http_core.py"), "serve", core, str(port)]
            else:
                interface = "rsgi" if core == "granian-rsgi" else "asgi"
                command = [*granian, "--interface", interface, "--port", str(port), "http_core_apps:app"]
                if core == "granian-rsgi":
                    env = {**env, "HTTP_CORE_APP": "rsgi"}
            out.append(Target(f"{core}/{app}", core, app, command, env, path, body, port))
    return out


# ------------------------------------------------------------------------------------------- servers
def serve(core: str, port: int) -> None:
    """One server process for `ours` or `uvicorn` (granian is started by its own CLI)."""
    import uvloop

    sys.path.insert(0, str(BENCH))
    import http_core_apps as apps

    if core == "ours":
        from modelplane.net.http import HttpServer
        from modelplane.server.app import render_error

        async def main() -> None:
            apps.model()
            server = HttpServer(apps.bare_handler, render_error=render_error, max_body=1 << 20)
            await server.listen("127.0.0.1", port)
            print(f"listening {port}", flush=True)
            await asyncio.Event().wait()

        uvloop.install()
        asyncio.run(main())
    else:
        import uvicorn

        config = uvicorn.Config(
            apps.app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
        )
        uvicorn.Server(config).run()


def start(target: Target, pin: bool) -> None:
    env = {**os.environ, **target.env, "PYTHONPATH": f"{BENCH}{os.pathsep}{ROOT}"}
    target.proc = subprocess.Popen(
        [*PIN["server"], *target.command] if pin else target.command,
        env=env,
        cwd=BENCH,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def post(target: Target, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{target.port}{target.path}",
        data=json.dumps(target.body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(target: Target, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert target.proc is not None
        if target.proc.poll() is not None:
            err = target.proc.stderr.read().decode() if target.proc.stderr else ""
            raise SystemExit(f"{target.name} exited: {err[-2000:]}")
        try:
            status, body = post(target)
            if status == 200:
                answer = json.loads(body)
                assert answer.get("prediction") == 0 or answer["outputs"][0]["data"][0] == 0, answer
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{target.name} not ready after {timeout} s")


def stop(target: Target) -> None:
    if target.proc is not None and target.proc.poll() is None:
        os.killpg(target.proc.pid, signal.SIGKILL)
        target.proc.wait()


def session_cpu_s(session: int) -> float:
    """user + system CPU seconds of every live process in the session (the server and its workers)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session:  # field 6 (session) counted after the name
            total += int(fields[11]) + int(fields[12])
    return total / tick


# ----------------------------------------------------------------------------------------------- wrk
def wrk(target: Target, seconds: float, connections: int, lua: Path, pin: bool) -> dict[str, float]:
    assert target.proc is not None
    before = session_cpu_s(target.proc.pid)
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout=10s",
        "-s",
        str(lua),
    ]
    command.append(f"http://127.0.0.1:{target.port}{target.path}")
    result = subprocess.run(
        [*PIN["load"], *command] if pin else command,
        capture_output=True,
        text=True,
        env={**os.environ, "WRK_BODY": json.dumps(target.body)},
    )
    cpu = session_cpu_s(target.proc.pid) - before
    match = re.search(r"WRK_JSON (\{.*\})", result.stdout)
    if not match:
        raise SystemExit(
            f"wrk gave no result for {target.name}: {result.stdout[-500:]} {result.stderr[-500:]}"
        )
    raw = json.loads(match.group(1))
    if raw["non2xx"] or raw["errors"]:
        print(f"  warning: {target.name}: {raw['non2xx']} non-2xx, {raw['errors']} socket errors", flush=True)
    requests = max(1, raw["requests"])
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "cpu_ms": 1000 * cpu / requests,
        "bad": raw["non2xx"] + raw["errors"],
    }


# ------------------------------------------------------------------------------------------- clients
async def client_run(kind: str, port: int, total: int, concurrency: int) -> dict[str, float]:
    body = orjson_dumps(BARE_BODY)
    latencies: list[float] = []
    if kind == "ours":
        from modelplane.net.client import ConnectionPool

        pool = ConnectionPool(max_per_address=concurrency)
        address = f"127.0.0.1:{port}"

        async def one() -> None:
            began = time.perf_counter()
            response = await pool.request(
                address, "POST", "/predict", body=body, content_type=b"application/json"
            )
            assert response.status == 200 and response.body
            latencies.append(time.perf_counter() - began)

        closer: Any = pool.close
    else:
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
        url = f"http://127.0.0.1:{port}/predict"
        headers = {"content-type": "application/json"}

        async def one() -> None:
            began = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                data = await response.read()
                assert response.status == 200 and data
            latencies.append(time.perf_counter() - began)

        closer = session.close

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(worker(10) for _ in range(concurrency)))  # warm: connections open
    latencies.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    result = closer()
    if asyncio.iscoroutine(result):
        await result
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "cpu_ms": 1000 * cpu / len(latencies),
    }


def orjson_dumps(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


# ------------------------------------------------------------------------------------------- summary
def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def paired(ours: list[dict[str, float]], other: list[dict[str, float]]) -> tuple[float, float]:
    """Medians over reps of (ours/other req/s, other/ours CPU per request), each rep against itself."""
    speed = statistics.median(a["rps"] / b["rps"] for a, b in zip(ours, other, strict=True))
    cpu = statistics.median(b["cpu_ms"] / a["cpu_ms"] for a, b in zip(ours, other, strict=True))
    return speed, cpu


Runs = dict[str, list[dict[str, float]]]


def render(server_runs: Runs, client_runs: Runs, args: Any) -> str:
    servers = {name: median_of(runs) for name, runs in server_runs.items()}
    clients = {name: median_of(runs) for name, runs in client_runs.items()}
    where = (
        "each server pinned to CPU 1 (all its threads), wrk and the clients to CPU 0; other work "
        "shares both. "
        if args.pin
        else "wrk and the servers share the machine's 2 cores with other work. "
    )
    lines = [
        PINNED_SECTION if args.pin else SECTION,
        "",
        f"One run, {args.reps} reps; in each, the servers of one app run back to back (order rotated "
        "from rep to rep). Values are medians over reps; ratios are medians of each rep's own ratio "
        "(ours against its neighbour in time), steadier than ratios of medians on a busy machine; "
        f"wrk -t2 -c{args.connections}, {args.warmup:g} s warm-up + {args.duration:g} s per rep; "
        + where
        + "CPU = server CPU time (all its processes) per request. Versions: "
        + versions()
        + ".",
        "",
        "| W1 | server | req/s | p50 ms | p99 ms | CPU ms/req | ours/this req/s | this/ours CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "bare": "bare handler (no batching)",
        "nobatch": "full path, no batching",
        "batch": "full path, batching (64, 0 ms)",
    }
    for app in ("bare", "nobatch", "batch"):
        if f"ours/{app}" not in servers:
            continue
        for core in ("ours", "uvicorn", "granian", "granian-rsgi"):
            m = servers.get(f"{core}/{app}")
            if m is None:
                continue
            speed, cpu = paired(server_runs[f"ours/{app}"], server_runs[f"{core}/{app}"])
            name = {"ours": "ours (net/http.py)", "uvicorn": "uvicorn (httptools, raw ASGI)"}.get(core, core)
            if core == "granian":
                name = "granian (ASGI)"
            if core == "granian-rsgi":
                name = "granian (RSGI)"
            lines.append(
                f"| {labels[app]} | {name} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                f"{m['cpu_ms']:.3f} | {'' if core == 'ours' else f'{speed:.2f}x'} | "
                f"{'' if core == 'ours' else f'{cpu:.2f}x'} |"
            )
    lines += [
        "",
        verdict(server_runs),
        "",
        "Reading: granian's HTTP runs in Rust threads beside the Python thread, so unpinned it uses "
        "more than one core; ours and uvicorn run everything on one thread. Pinned to one CPU (the "
        "--pin section) the comparison is per core, as for a replica limited to one CPU. p99 in the "
        "seconds for ours and uvicorn (and the peers' raw httptools floor, measured by hand the same "
        "way) is a single event loop under 64 connections on an overloaded machine, not the core.",
    ]
    if not clients:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"Clients against ours/bare: {args.client_requests:,} requests after a warm-up; sequential = 1 in "
        f"flight, concurrent = {args.client_concurrency} in flight. CPU = client process CPU per request.",
        "",
        "| mode | client | req/s | p50 ms | p99 ms | CPU ms/req | ours/aiohttp req/s | aiohttp/ours CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in ("sequential", "concurrent"):
        ours, other = clients[f"ours/{mode}"], clients[f"aiohttp/{mode}"]
        speed, cpu = paired(client_runs[f"ours/{mode}"], client_runs[f"aiohttp/{mode}"])
        for kind, m in (("ours (net/client.py)", ours), ("aiohttp", other)):
            mine = kind.startswith("ours")
            lines.append(
                f"| {mode} | {kind} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                f"{m['cpu_ms']:.3f} | {'' if mine else f'{speed:.2f}x'} | {'' if mine else f'{cpu:.2f}x'} |"
            )
    return "\n".join(lines) + "\n"


def verdict(server_runs: Runs) -> str:
    """Issue 8 §2's rule: keep the hand-written core only if it is >= 1.3x faster on the full path."""
    parts, keep = [], True
    for core in ("uvicorn", "granian"):
        for app in ("nobatch", "batch"):
            ours, other = server_runs.get(f"ours/{app}"), server_runs.get(f"{core}/{app}")
            if ours is None or other is None:
                return "Verdict: not measured (the full path needs ours, uvicorn and granian)."
            speedup, cpu = paired(ours, other)
            keep = keep and speedup >= 1.3
            parts.append(f"{speedup:.2f}x {core} {app} (their CPU/request {cpu:.2f}x ours)")
    rule = (
        "keep it (>= 1.3x on every full-path row)"
        if keep
        else "replace it (not >= 1.3x on every full-path row)"
    )
    return f"Verdict by the issue's rule: ours req/s on the full path = {'; '.join(parts)}: {rule}."


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("httptools", "uvloop", "uvicorn", "granian", "aiohttp"))


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--client-requests", type=int, default=8000)
    parser.add_argument("--client-concurrency", type=int, default=32)
    parser.add_argument("--base-port", type=int, default=18400)
    parser.add_argument("--only", default=None, help="regex on target names (servers), e.g. 'bare'")
    parser.add_argument("--no-clients", action="store_true")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="each server on CPU 1 (all its threads), wrk and the clients on CPU 0: per-core cost, "
        "as a replica limited to one CPU sees it",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    parser.add_argument("--render", type=Path, default=None, help="only re-render a saved results JSON")
    args = parser.parse_args()

    if args.render is not None:
        saved = json.loads(args.render.read_text())
        for key in (
            "reps",
            "duration",
            "warmup",
            "connections",
            "client_requests",
            "client_concurrency",
            "pin",
        ):
            setattr(args, key, saved["config"].get(key, False))
        servers = {name: runs for name, runs in saved["servers"].items() if runs}
        text = render(servers, saved["clients"], args)
        print(text)
        if not args.no_write:
            write_section(BENCH / "RESULTS.md", PINNED_SECTION if args.pin else SECTION, text)
        return
    lua = Path("/tmp/modelplane-http-core.lua")
    lua.write_text(WRK_LUA)
    chosen = [
        t
        for t in targets(sys.executable, args.base_port)
        if args.only is None or re.search(args.only, t.name)
    ]
    try:
        for target in chosen:
            start(target, args.pin)
        for target in chosen:
            wait_ready(target)
            print(f"ready: {target.name} on :{target.port}", flush=True)
        groups = [[t for t in chosen if t.app == app] for app in ("bare", "nobatch", "batch")]
        for rep in range(args.reps):
            # each app's servers back to back (so a rep's ratios compare neighbours in time), their
            # order rotated from rep to rep
            order = [t for g in groups if g for t in g[rep % len(g) :] + g[: rep % len(g)]]
            for target in order:
                wrk(target, args.warmup, args.connections, lua, args.pin)
                run = wrk(target, args.duration, args.connections, lua, args.pin)
                target.runs.append(run)
                print(
                    f"rep {rep + 1} {target.name:22} {run['rps']:8.0f} req/s  p50 {run['p50_ms']:.2f} ms  "
                    f"p99 {run['p99_ms']:.2f} ms  cpu {run['cpu_ms']:.3f} ms/req",
                    flush=True,
                )
        client_results: dict[str, list[dict[str, float]]] = {}
        ours_bare = next((t for t in chosen if t.name == "ours/bare"), None)
        if not args.no_clients and ours_bare is not None:
            import uvloop

            uvloop.install()
            if args.pin:
                os.sched_setaffinity(0, {0})
            for rep in range(args.reps):
                for mode, concurrency in (("sequential", 1), ("concurrent", args.client_concurrency)):
                    kinds = ("ours", "aiohttp") if rep % 2 == 0 else ("aiohttp", "ours")
                    for kind in kinds:
                        total = args.client_requests // (4 if mode == "sequential" else 1)
                        run = asyncio.run(client_run(kind, ours_bare.port, total, concurrency))
                        client_results.setdefault(f"{kind}/{mode}", []).append(run)
                        print(
                            f"rep {rep + 1} client {kind:8} {mode:10} {run['rps']:8.0f} req/s  "
                            f"p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  "
                            f"cpu {run['cpu_ms']:.3f} ms/req",
                            flush=True,
                        )
    finally:
        for target in chosen:
            stop(target)
    text = render({t.name: t.runs for t in chosen if t.runs}, client_results, args)
    print(text)
    if not args.no_write:
        out = {"servers": {t.name: t.runs for t in chosen}, "clients": client_results, "config": vars(args)}
        name = "http_core_pinned.json" if args.pin else "http_core.json"
        (BENCH / "results" / name).write_text(json.dumps(out, indent=1))
        write_section(BENCH / "RESULTS.md", PINNED_SECTION if args.pin else SECTION, text)


if __name__ == "__main__":
    main()
