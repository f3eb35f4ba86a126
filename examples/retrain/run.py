"""Close the loop: a training Job writes sentiment v2, then a rolling update serves it, under load.

    python examples/retrain/run.py [--state-dir DIR] [--clients 8] [--keep-running]

1. builds sentiment v1 when missing (examples/build_models.py) and removes any earlier v2, so the Job
   really trains it;
2. `modelplane up`, `apply -f sentiment.yaml` (v1, two replicas), `rollout status sentiment`;
3. starts `--clients` threads that classify sentences through the router without pause, counting every
   failed request and which model version answered;
4. `apply -f job.yaml` (the training Job), `wait job/retrain-sentiment --for condition=Complete`, then
   prints the Job's log (`logs job/retrain-sentiment`) and `get jobs`;
5. `apply -f sentiment-v2.yaml` (same deployment, the new model directory and version v2),
   `rollout status sentiment`;
6. keeps the clients on until 50 answers in a row came from v2, stops them, prints the counts and
   `rollout history sentiment`;
7. `modelplane down` (unless --keep-running).

It prints RETRAIN OK and exits 0 only when every step worked and no request failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE.parent
sys.path.insert(0, str(EXAMPLES_DIR))

import build_models  # noqa: E402
from demo import SENTENCES, Client, DemoError, infer_body, modelplane, textwrap_indent  # noqa: E402

V2_DIR = build_models.DEFAULT_OUT / "sentiment-v2"
JOB = "retrain-sentiment"
SWITCHED_AFTER = 50  # answers in a row from v2 that show the rollout is over for clients too
STEP_TIMEOUT = "5m"


class Load:
    """Closed-loop clients through the router; every request that does not answer 200 is a failure."""

    def __init__(self, ingress: str, clients: int) -> None:
        self.client = Client(ingress, timeout_s=30)
        self.clients = clients
        self.lock = threading.Lock()
        self.by_version: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.v2_in_a_row = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def total(self) -> int:
        with self.lock:
            return sum(self.by_version.values()) + len(self.failures)

    def _run(self, index: int) -> None:
        n = 0
        while not self.stop.is_set():
            text = SENTENCES[(index + n) % len(SENTENCES)]
            n += 1
            try:
                status, body = self.client.request(
                    "POST", "/v2/models/sentiment/infer", infer_body("input0", "BYTES", [1], [text])
                )
            except OSError as error:
                status, body = 0, str(error)
            with self.lock:
                if status == 200 and isinstance(body, dict):
                    version = str(body.get("model_version"))
                    self.by_version[version] += 1
                    self.v2_in_a_row = self.v2_in_a_row + 1 if version == "v2" else 0
                else:
                    self.failures.append(f"HTTP {status}: {str(body)[:200]}")


def step(title: str, *args: str, timeout: float = 360) -> str:
    """Run one `modelplane` command, print it and its output; DemoError when it fails."""
    print(f"\n== modelplane {' '.join(args)}")
    done = modelplane(*args, timeout=timeout)
    output = (done.stdout + done.stderr).rstrip()
    if output:
        print(textwrap_indent(output))
    if done.returncode != 0:
        raise DemoError(f"{title} failed (exit {done.returncode})")
    return done.stdout


def wait_until(condition: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def run(args: argparse.Namespace, api: str, ingress: str) -> list[str]:
    server = ("--server", api)
    step("apply v1", "apply", "-f", str(HERE / "sentiment.yaml"), *server)
    step("rollout of v1", "rollout", "status", "sentiment", "--timeout", STEP_TIMEOUT, *server)
    load = Load(ingress, args.clients)
    load.start()
    print(f"\n== {args.clients} clients classify sentences through the router at {ingress}, without pause")
    try:
        wait_until(lambda: load.total() >= 20, timeout=60, what="the first answers")
        step("training job", "apply", "-f", str(HERE / "job.yaml"), *server)
        step(
            "training",
            "wait",
            f"job/{JOB}",
            "--for",
            "condition=Complete",
            "--timeout",
            STEP_TIMEOUT,
            *server,
        )
        step("job logs", "logs", f"job/{JOB}", *server)
        step("get jobs", "get", "jobs", *server)
        metrics = json.loads((V2_DIR / "metrics.json").read_text())
        print(f"  the Job wrote {V2_DIR / 'model.skops'}: held-out accuracy {metrics['heldOutAccuracy']}")
        step("apply v2", "apply", "-f", str(HERE / "sentiment-v2.yaml"), *server)
        step("rollout of v2", "rollout", "status", "sentiment", "--timeout", STEP_TIMEOUT, *server)
        wait_until(
            lambda: load.v2_in_a_row >= SWITCHED_AFTER, timeout=60, what=f"{SWITCHED_AFTER} answers from v2"
        )
    finally:
        load.finish()
    counts = ", ".join(f"{version}: {n}" for version, n in sorted(load.by_version.items()))
    total, failed = load.total(), len(load.failures)
    print(f"\n== {total} requests during the retrain and the rollout: {counts}; failed: {failed}")
    for failure in load.failures[:5]:
        print(f"  {failure}")
    step("history", "rollout", "history", "sentiment", *server)
    problems = []
    if load.failures:
        problems.append(f"{len(load.failures)} request(s) failed")
    if not load.by_version.get("v1") or not load.by_version.get("v2"):
        problems.append(f"expected answers from v1 and v2, got {dict(load.by_version)}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--state-dir", type=Path, default=build_models.EXAMPLES_DIR.parent / ".modelplane")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--keep-running", action="store_true", help="leave the control plane running")
    args = parser.parse_args(argv)

    if build_models.missing_models():
        build_models.build_all()
    shutil.rmtree(V2_DIR, ignore_errors=True)  # the Job trains v2 afresh
    state = str(args.state_dir.resolve())
    if (args.state_dir / "up.json").exists():
        modelplane("down", "--state-dir", state)
    try:
        step("up", "up", "--detach", "--state-dir", state, "--port", "0", "--ingress-port", "0")
    except DemoError as error:
        print(f"\nRETRAIN FAILED: {error}")
        return 1
    urls = json.loads((args.state_dir / "up.json").read_text())
    try:
        problems = run(args, urls["api"], urls["ingress"])
    except DemoError as error:
        problems = [str(error)]
    finally:
        if args.keep_running:
            print(f"\n== left running: API {urls['api']}, router {urls['ingress']}")
            print(f"   stop everything with: modelplane down --state-dir {state}")
        else:
            down = modelplane("down", "--state-dir", state)
            print("\n== modelplane down\n" + textwrap_indent(down.stdout + down.stderr))
    if problems:
        print(f"\nRETRAIN FAILED: {'; '.join(problems)}")
        return 1
    print("\nRETRAIN OK: the Job trained sentiment v2 and the rollout served it with no failed request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
