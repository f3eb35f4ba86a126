"""Controller latency: how long from `apply` of a ModelDeployment to its first Replica object.

Starts a local control plane (`modelplane up --detach`) for each source tree measured, applies
`--runs` deployments one after another through the real API (`POST /api/v1/apply`) and polls
`GET /api/v1/replicas` every 5 ms until the deployment's replica exists. The deployments select a
node pool that does not exist, so their replicas stay Pending: no process is started, and only the
deployment controller's reaction is measured. With `--baseline REF`, the same is measured for the
source tree of git revision REF (exported with `git archive`), alternating rounds, so both numbers come
from the same noisy machine at the same time. Writes its section of bench/RESULTS.md.

    python bench/controllers.py --baseline HEAD~3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Apply → replica created (bench/controllers.py)"
DEPLOYMENT = """
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: {name}}}
spec:
  model: {{format: simulated}}
  replicas: 1
  nodeSelector: {{bench: nowhere}}
"""


def _request(method: str, url: str, body: bytes | None = None, content_type: str = "") -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def control_plane(source: Path, state: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(source), "MODELPLANE_GPUS": "[]"}
    cli = [sys.executable, "-m", "modelplane.cli.main"]
    up = [*cli, "up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0"]
    started = subprocess.run(up, capture_output=True, text=True, env=env, timeout=120)
    if started.returncode != 0:
        raise SystemExit(f"modelplane up failed for {source}:\n{started.stdout}{started.stderr}")
    try:
        yield str(json.loads((state / "up.json").read_text())["api"])
    finally:
        subprocess.run([*cli, "down", "--state-dir", str(state)], capture_output=True, env=env, timeout=180)


def apply_to_replica(api: str, name: str) -> float:
    """Seconds from sending the apply to the first time the replica list shows a replica of `name`."""
    started = time.perf_counter()
    _request("POST", f"{api}/api/v1/apply", DEPLOYMENT.format(name=name).encode(), "application/yaml")
    deadline = started + 30
    while time.perf_counter() < deadline:
        items = _request("GET", f"{api}/api/v1/replicas?namespace=default")["items"]
        if any(r["spec"].get("deployment") == name for r in items):
            return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit(f"no replica of {name} within 30 s")


def measure(trees: dict[str, Path], runs: int, work: Path) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {label: [] for label in trees}
    with contextlib.ExitStack() as stack:
        apis = {
            label: stack.enter_context(control_plane(tree, work / f"state-{i}"))
            for i, (label, tree) in enumerate(trees.items())
        }
        for api in apis.values():  # warm-up: first requests import and open everything
            apply_to_replica(api, "warm-up")
        for i in range(runs):
            for label, api in apis.items():
                samples[label].append(apply_to_replica(api, f"lat-{i}"))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", help="a git revision to measure beside the working tree")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mp-bench-controllers-"))
    try:
        trees = {"this tree": ROOT}
        if args.baseline:
            base = work / "baseline"
            base.mkdir()
            git = ["git", "archive", args.baseline]
            archive = subprocess.run(git, cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
            trees = {f"baseline {args.baseline}": base, **trees}
        samples = measure(trees, args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for label, values in samples.items():
        ms = sorted(v * 1000 for v in values)
        rows.append(f"| {label} | {statistics.median(ms):.0f} | {ms[0]:.0f} | {ms[-1]:.0f} | {len(ms)} |")
        print(f"{label}: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f}")
    if args.no_write:
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    text = "\n".join(
        [
            SECTION,
            "",
            f"`python bench/controllers.py{' --baseline ' + args.baseline if args.baseline else ''}` at "
            f"{commit.stdout.strip()} (+ working tree), {time.strftime('%Y-%m-%d')}: apply of a "
            "ModelDeployment through the API until its Replica object is listed; both control planes run "
            f"side by side, rounds alternate; {args.runs} runs each (ms).",
            "",
            "| control plane | median | min | max | runs |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    write_section(ROOT / "bench" / "RESULTS.md", SECTION, text)


if __name__ == "__main__":
    main()
