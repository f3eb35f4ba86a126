"""The modelplane demo (`make demo`): run the local control plane and ask the example models real questions.

    python examples/demo.py [--mode controlplane|serve] [--spec FILE] [--state-dir DIR] [--keep-running]

In the default `controlplane` mode it

1. builds the scikit-learn model files (examples/build_models.py) when one is missing;
2. starts the control plane and the router: `modelplane up --detach` (state in .modelplane/, the API
   and the router on free ports, printed);
3. applies the spec file (`modelplane apply -f examples/nlp.yaml`): five ModelDeployments, one
   replica each, every replica its own `modelplane serve` process started by the control plane;
4. waits until every deployment has its replicas Ready;
5. sends real requests THROUGH THE ROUTER with the standard library only: Open Inference Protocol v2
   (`POST /v2/models/{name}/infer`) to embed, sentiment, intent, iris and accel, one KServe v1
   `POST /v1/models/sentiment:predict`, `GET /v2/models`, and 64 concurrent requests to the simulated
   accelerator to show dynamic batching; it prints the answers;
6. prints `modelplane get deployments` and `modelplane get replicas`;
7. stops everything with `modelplane down` — or, with `--keep-running`, leaves it running and says how
   to stop it;
8. ends with a short 10x traffic spike (`bench/spike.py --short`: three simulated models autoscaled
   2..20) and prints where its plot is (`--no-spike` skips it; skipped with `--keep-running`).

`--mode serve` skips the control plane: one `modelplane serve` process serves every model of the file.
It exits non-zero when any step failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = EXAMPLES_DIR.parent
DEFAULT_SPEC = EXAMPLES_DIR / "nlp.yaml"

LISTENING = re.compile(r"modelplane server listening on (http://[^\s:/]+:(\d+))")
START_TIMEOUT_S = 60.0  # process start until the "listening" line
READY_TIMEOUT_S = 120.0  # listening until /v2/health/ready is 200 (MiniLM takes a few seconds)
STOP_TIMEOUT_S = 45.0  # SIGTERM until exit (the default grace period is 30 s)
REQUEST_TIMEOUT_S = 30.0

SENTENCES = [
    "I absolutely loved this film, the acting was wonderful.",
    "The delivery was late and the package arrived damaged.",
    "Not bad at all, I would go back.",
    "I wouldn't recommend this app to anyone, it keeps crashing.",
    "Friendly staff and delicious food.",
]
UTTERANCES = [
    "hi there",
    "how much money is in my savings account?",
    "please send 40 euros to my brother",
    "I think someone stole my credit card",
    "what time do you open on saturday",
    "can I talk to a real person please",
]
EMBED_PAIRS = [
    ("related", "A man is playing the guitar on stage.", "Someone performs a song with a guitar."),
    ("unrelated", "A man is playing the guitar on stage.", "Interest rates rose again this quarter."),
]
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]
IRIS_FLOWER = [5.1, 3.5, 1.4, 0.2]  # sepal length, sepal width, petal length, petal width (cm)
ACCEL_ROW = [1.0, 2.0, 3.0, 4.0]
CONCURRENT_REQUESTS = 64


class DemoError(Exception):
    """A step of the demo failed; the message says how."""


# --------------------------------------------------------------------------- HTTP (stdlib only)


class Client:
    def __init__(self, base_url: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body or text) — HTTP error statuses are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _decode(error.read())

    def get(self, path: str) -> Any:
        return self._ok("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._ok("POST", path, body)

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.request(method, path, body)
        if status != 200:
            detail = payload.get("error", payload) if isinstance(payload, dict) else payload
            raise DemoError(f"{method} {path} -> HTTP {status}: {detail}")
        return payload


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def infer_body(name: str, datatype: str, shape: Sequence[int], data: Sequence[Any], **extra: Any) -> Any:
    """An Open Inference Protocol v2 request with one input tensor (data flat, row-major)."""
    return {
        **extra,
        "inputs": [{"name": name, "shape": list(shape), "datatype": datatype, "data": list(data)}],
    }


def outputs_by_name(response: Any) -> dict[str, dict[str, Any]]:
    """The `outputs` of a v2 infer response, by name, each checked to carry shape and data."""
    if not isinstance(response, dict) or not isinstance(response.get("outputs"), list):
        raise DemoError(f"not an inference response: {str(response)[:200]}")
    result: dict[str, dict[str, Any]] = {}
    for out in response["outputs"]:
        if not isinstance(out, dict) or "name" not in out or "shape" not in out or "data" not in out:
            raise DemoError(f"malformed output tensor: {str(out)[:200]}")
        result[out["name"]] = out
    return result


def output(response: Any, name: str, shape: Sequence[int] | None = None) -> dict[str, Any]:
    outputs = outputs_by_name(response)
    if name not in outputs:
        raise DemoError(f"the response has no output '{name}'; it has {sorted(outputs)}")
    tensor = outputs[name]
    if shape is not None and list(tensor["shape"]) != list(shape):
        raise DemoError(f"output '{name}' has shape {tensor['shape']}, expected {list(shape)}")
    expected = math.prod(tensor["shape"])
    if len(tensor["data"]) != expected:
        raise DemoError(f"output '{name}' has {len(tensor['data'])} values for shape {tensor['shape']}")
    return tensor


def rows(flat: Sequence[Any], n_rows: int) -> list[list[Any]]:
    """Split flat row-major data into n_rows equal rows."""
    if n_rows <= 0 or len(flat) % n_rows:
        raise DemoError(f"{len(flat)} values do not split into {n_rows} rows")
    width = len(flat) // n_rows
    return [list(flat[i * width : (i + 1) * width]) for i in range(n_rows)]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        raise DemoError("an embedding is all zeros")
    return dot / norm


# --------------------------------------------------------------------------- the server process


class ServerProcess:
    """`modelplane serve` as a child process whose output is drained by a thread (so it never blocks
    on a full pipe): the lines are kept for error reports, echoed when asked, and scanned for the port."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, echo: bool = False) -> None:
        self.argv = list(argv)
        self.echo = echo
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.url: str | None = None
        self._listening = threading.Event()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name="server-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self.echo:
                print(f"  [server] {line}", flush=True)
            if self.url is None:
                match = LISTENING.search(line)
                if match:
                    self.url = match.group(1)
                    self._listening.set()
        self._listening.set()  # output closed: wake a waiter, which then sees the exit

    def wait_listening(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._listening.wait(timeout=0.1) and self.url is not None:
                return self.url
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)
                raise DemoError(f"the server exited with code {self.proc.returncode} before listening")
        raise DemoError(f"the server printed no 'listening' line within {timeout_s:.0f} s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float) -> int:
        """SIGTERM, then wait; SIGKILL if it overstays. The exit code (negative: killed by a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise DemoError(
                    f"the server did not exit within {timeout_s:.0f} s of SIGTERM; killed it"
                ) from None
        self._reader.join(timeout=2)
        return self.proc.returncode

    def output_tail(self, n: int = 60) -> str:
        return "\n".join(list(self.lines)[-n:])


def wait_ready(client: Client, server: ServerProcess, timeout_s: float) -> float:
    """Poll /v2/health/ready until 200; seconds waited."""
    started = time.monotonic()
    deadline = started + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not server.alive():
            raise DemoError(f"the server exited with code {server.proc.returncode} while loading ({last})")
        try:
            status, payload = client.request("GET", "/v2/health/ready")
        except (urllib.error.URLError, OSError) as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if status == 200:
                return time.monotonic() - started
            last = payload.get("error", payload) if isinstance(payload, dict) else str(payload)
        time.sleep(0.25)
    raise DemoError(f"/v2/health/ready was not 200 within {timeout_s:.0f} s; last answer: {last}")


# --------------------------------------------------------------------------- the requests


def show_models(client: Client) -> None:
    payload = client.get("/v2/models")
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        raise DemoError(f"GET /v2/models did not return {{'models': [...]}}: {payload}")
    names = [m if isinstance(m, str) else m.get("name", m) for m in models]
    print(f"  served models: {', '.join(map(str, names))}")
    missing = {"embed", "sentiment", "intent", "iris", "accel"} - set(names)
    if missing:
        raise DemoError(f"the server does not list {sorted(missing)}")


def classify_texts(client: Client, model: str, texts: Sequence[str]) -> list[tuple[str, float]]:
    """(label, confidence) per text from a text classifier (input0 BYTES -> label, probabilities)."""
    n = len(texts)
    response = client.post(
        f"/v2/models/{model}/infer", infer_body("input0", "BYTES", [n], texts, id=f"demo-{model}")
    )
    labels = output(response, "label", [n])["data"]
    probabilities = output(response, "probabilities")
    if len(probabilities["shape"]) != 2 or probabilities["shape"][0] != n:
        raise DemoError(f"'probabilities' has shape {probabilities['shape']}, expected [{n}, k]")
    return [(str(label), max(p)) for label, p in zip(labels, rows(probabilities["data"], n), strict=True)]


def demo_sentiment(client: Client) -> None:
    for sentence, (label, confidence) in zip(
        SENTENCES, classify_texts(client, "sentiment", SENTENCES), strict=True
    ):
        print(f"  {label:<9} {confidence:5.1%}  {sentence}")


def demo_sentiment_v1(client: Client) -> None:
    sentence = "The support team fixed my problem in minutes. Great service!"
    payload = client.post("/v1/models/sentiment:predict", {"instances": [sentence]})
    predictions = payload.get("predictions") if isinstance(payload, dict) else None
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise DemoError(f"KServe v1 predict did not return one prediction: {payload}")
    print(f"  POST /v1/models/sentiment:predict -> {predictions[0]!r}  ({sentence})")


def demo_intent(client: Client) -> None:
    for utterance, (label, confidence) in zip(
        UTTERANCES, classify_texts(client, "intent", UTTERANCES), strict=True
    ):
        print(f"  {label:<16} {confidence:5.1%}  {utterance}")


def demo_embed(client: Client) -> None:
    texts = sorted({t for _, a, b in EMBED_PAIRS for t in (a, b)})
    n = len(texts)
    response = client.post("/v2/models/embed/infer", infer_body("text", "BYTES", [n], texts, id="demo-embed"))
    tensor = output(response, "embedding")
    shape = tensor["shape"]
    if len(shape) != 2 or shape[0] != n:
        raise DemoError(f"'embedding' has shape {shape}, expected [{n}, dim]")
    if tensor.get("datatype") not in (None, "FP32"):
        raise DemoError(f"'embedding' has datatype {tensor.get('datatype')}, expected FP32")
    vectors = dict(zip(texts, rows(tensor["data"], n), strict=True))
    print(f"  embedding dimension: {shape[1]} (shape {shape})")
    scores = {}
    for kind, a, b in EMBED_PAIRS:
        scores[kind] = cosine(vectors[a], vectors[b])
        print(f"  cosine {scores[kind]:+.3f}  {kind:<9}  {a!r} / {b!r}")
    if not scores["related"] > scores["unrelated"]:
        raise DemoError("the related sentences are not closer than the unrelated ones")


def demo_iris(client: Client) -> None:
    response = client.post("/v2/models/iris/infer", infer_body("input0", "FP64", [1, 4], IRIS_FLOWER))
    label = output(response, "label", [1])["data"][0]
    name = IRIS_CLASSES[label] if isinstance(label, int) and 0 <= label < len(IRIS_CLASSES) else "?"
    print(f"  flower {IRIS_FLOWER} -> class {label} ({name})")


def accel_once(client: Client, row: Sequence[float]) -> float:
    response = client.post("/v2/models/accel/infer", infer_body("input0", "FP32", [1, len(row)], row))
    return float(output(response, "output0", [1])["data"][0])


def demo_accel(client: Client) -> None:
    answer = accel_once(client, ACCEL_ROW)
    print(f"  row sum of {ACCEL_ROW} -> {answer}")
    if answer != sum(ACCEL_ROW):
        raise DemoError(f"expected {sum(ACCEL_ROW)}, got {answer}")


def demo_batching(client: Client) -> None:
    """64 requests at once; each simulated call costs 20 ms, so batching is what makes this fast."""

    def one(i: int) -> bool:
        row = [float(i), 1.0, 2.0, 3.0]
        return accel_once(client, row) == sum(row)

    started = time.perf_counter()
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        futures = [pool.submit(one, i) for i in range(CONCURRENT_REQUESTS)]
        ok = 0
        for future in futures:
            try:
                ok += bool(future.result())
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
    wall = time.perf_counter() - started
    unbatched = CONCURRENT_REQUESTS * 0.020
    print(
        f"  {ok}/{CONCURRENT_REQUESTS} concurrent requests completed correctly in {wall * 1000:.0f} ms "
        f"(one at a time they would take at least {unbatched * 1000:.0f} ms)"
    )
    if ok != CONCURRENT_REQUESTS:
        raise DemoError(
            f"{CONCURRENT_REQUESTS - ok} requests failed; first error: {errors[0] if errors else '-'}"
        )


STEPS: list[tuple[str, Callable[[Client], None]]] = [
    ("GET /v2/models", show_models),
    ("sentiment (v2 infer)", demo_sentiment),
    ("sentiment (KServe v1 predict)", demo_sentiment_v1),
    ("intent", demo_intent),
    ("embed (all-MiniLM-L6-v2)", demo_embed),
    ("iris", demo_iris),
    ("accel (simulated accelerator, 20 ms per call)", demo_accel),
    (f"accel: {CONCURRENT_REQUESTS} concurrent requests (dynamic batching)", demo_batching),
]


def run_steps(client: Client) -> list[str]:
    """Run every step, going on after a failure; the names of the failed steps."""
    failed = []
    for title, step in STEPS:
        print(f"\n== {title}")
        try:
            step(client)
        except Exception as error:
            failed.append(title)
            print(f"  FAILED: {error}")
            if not isinstance(error, DemoError):
                traceback.print_exc()
    return failed


# --------------------------------------------------------------------------- main


def ensure_models() -> None:
    sys.path.insert(0, str(EXAMPLES_DIR))
    try:
        import build_models
    finally:
        sys.path.remove(str(EXAMPLES_DIR))
    missing = build_models.missing_models()
    if missing:
        print(f"== building the missing model files ({', '.join(missing)})")
        build_models.build_all()
        print()


def server_argv(spec: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "modelplane.cli.main", "serve", "-f", str(spec), "--port", str(port)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=["controlplane", "serve"], default="controlplane")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="spec file (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port for the server; 0 picks a free one")
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".modelplane", help="control plane state"
    )
    parser.add_argument("--keep-running", action="store_true", help="leave everything running at the end")
    parser.add_argument("--verbose", action="store_true", help="echo the server's log lines")
    parser.add_argument("--no-spike", action="store_true", help="skip the short autoscaling spike at the end")
    args = parser.parse_args(argv)

    ensure_models()
    if args.mode == "controlplane":
        return run_control_plane(args)
    argv_ = server_argv(args.spec.resolve(), args.port)
    print(f"== starting the model server: {' '.join(argv_[1:])}")
    server = ServerProcess(argv_, cwd=REPO_ROOT, echo=args.verbose)
    failed: list[str] = []
    try:
        try:
            url = server.wait_listening(START_TIMEOUT_S)
            print(f"  listening on {url}")
            client = Client(url)
            waited = wait_ready(client, server, READY_TIMEOUT_S)
            print(f"  ready after {waited:.1f} s (GET /v2/health/ready -> 200)")
        except DemoError as error:
            print(f"  FAILED: {error}\n--- server output (last lines) ---\n{server.output_tail()}\n---")
            failed.append("start the server")
        else:
            failed += run_steps(client)
            if args.keep_running and server.alive():
                server.echo = True
                print(f"\n== the server stays up at {url} (its logs follow); Ctrl-C stops it")
                try:
                    while server.alive():
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    print()
    finally:
        print("\n== stopping the server (SIGTERM)")
        try:
            code = server.stop(STOP_TIMEOUT_S)
        except DemoError as error:
            print(f"  FAILED: {error}")
            failed.append("stop the server")
        else:
            print(f"  server exited with code {code}")
            if code != 0:
                failed.append(f"server exit code {code}")
                if not args.verbose and "start the server" not in failed:
                    print(f"--- server output (last lines) ---\n{server.output_tail()}\n---")

    if failed:
        print(f"\nDEMO FAILED: {'; '.join(failed)}")
        return 1
    print("\nDEMO OK")
    return 0


# --------------------------------------------------------------------------- control-plane mode


def modelplane(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelplane.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


def wait_deployments_ready(api: str, names: Sequence[str], timeout_s: float) -> float:
    """Poll the API until every named deployment has all its replicas ready; seconds waited."""
    started = time.monotonic()
    client = Client(api)
    while time.monotonic() < started + timeout_s:
        items = client.get("/api/v1/modeldeployments")["items"]
        status = {i["metadata"]["name"]: i.get("status") or {} for i in items}
        if all(
            status.get(n, {}).get("readyReplicas", 0) >= max(status.get(n, {}).get("desiredReplicas", 1), 1)
            for n in names
        ):
            return time.monotonic() - started
        replicas = client.get("/api/v1/replicas")["items"]
        crashing = [r for r in replicas if (r.get("status") or {}).get("restarts", 0) >= 2]
        if crashing:
            name = crashing[0]["metadata"]["name"]
            raise DemoError(f"replica {name} keeps crashing; see `modelplane logs replica/{name}`")
        time.sleep(0.5)
    raise DemoError(f"the deployments were not ready within {timeout_s:.0f} s")


def run_control_plane(args: argparse.Namespace) -> int:
    state = str(args.state_dir.resolve())
    if (args.state_dir / "up.json").exists():
        modelplane("down", "--state-dir", state)
    print(f"== modelplane up --detach --state-dir {state}")
    started = modelplane("up", "--detach", "--state-dir", state, "--port", "0", "--ingress-port", "0")
    print(textwrap_indent(started.stdout + started.stderr))
    if started.returncode != 0:
        print("\nDEMO FAILED: the control plane did not start")
        return 1
    urls = json.loads((args.state_dir / "up.json").read_text())
    api, ingress = urls["api"], urls["ingress"]
    failed: list[str] = []
    try:
        print(f"== modelplane apply -f {args.spec}")
        applied = modelplane("apply", "-f", str(args.spec.resolve()), "--server", api)
        print(textwrap_indent(applied.stdout + applied.stderr))
        if applied.returncode != 0:
            raise DemoError("apply failed")
        names = [line.split("/")[-1].split()[0] for line in applied.stdout.splitlines() if "/" in line]
        waited = wait_deployments_ready(api, names, READY_TIMEOUT_S)
        print(f"  all {len(names)} deployments ready after {waited:.1f} s")
        print(f"\n== requests go through the router at {ingress}")
        failed += run_steps(Client(ingress))
        for kind in ("deployments", "replicas"):
            print(f"\n== modelplane get {kind}")
            print(textwrap_indent(modelplane("get", kind, "--server", api).stdout))
    except DemoError as error:
        print(f"  FAILED: {error}")
        failed.append(str(error))
    finally:
        if args.keep_running:
            print(f"\n== left running: API {api}, router {ingress}")
            print(f"   stop everything with: modelplane down --state-dir {state}")
        else:
            print("\n== modelplane down (drains and stops every replica, the control plane and the router)")
            down = modelplane("down", "--state-dir", state)
            print(textwrap_indent(down.stdout + down.stderr))
            if down.returncode != 0:
                failed.append("down")
    if not failed and not args.keep_running and not args.no_spike:
        failed += run_spike(args.state_dir.resolve() / "spike")
    if failed:
        print(f"\nDEMO FAILED: {'; '.join(failed)}")
        return 1
    print("\nDEMO OK")
    return 0


def run_spike(out: Path) -> list[str]:
    """The short spike (bench/spike.py --short): three simulated models autoscaled 2..20, 10x for 20 s."""
    print("\n== a 10x spike, short version: python bench/spike.py --short (about 1-2 minutes)")
    print("   three simulated-accelerator models (examples/spike/spike.yaml) behind the router, 2 replicas")
    print("   each, autoscaled on concurrency; see bench/RESULTS.md, Spike, for the full 60 s run")
    argv = [sys.executable, str(REPO_ROOT / "bench" / "spike.py"), "--short", "--out", str(out)]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    summary = [line for line in lines if not line.lstrip().startswith("[")]
    print(textwrap_indent("\n".join(summary)))
    if done.returncode != 0:
        print(textwrap_indent(done.stderr[-2000:]))
        return ["spike"]
    plots = [line.split("plot:", 1)[1].strip() for line in lines if line.strip().startswith("plot:")]
    if plots:
        print(f"\n== the spike's plot (offered vs served, p99, replicas over time): {plots[-1]}")
    return []


def textwrap_indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines())


if __name__ == "__main__":
    sys.exit(main())
