"""Apply cost of large specs: the CPU time `POST /apply` spends in one event-loop turn, per value.

Runs, in a child process per source tree, what the apply handler does before it stores anything
(`load_text` on the body, then `applying.prepare` for each object) on two specs: 1,000
ModelDeployment documents, and one ModelDeployment whose `model.params` hold a list of 10,000 numbers.
With `--baseline REF`, the same is measured for the source tree of git revision REF (exported with
`git archive`), alternating rounds, so both numbers come from the same noisy machine at the same time.
Writes its section of bench/RESULTS.md.

    python bench/apply_spec.py --baseline HEAD~1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Apply of large specs (bench/apply_spec.py)"
DOCUMENT = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: d{index}, labels: {{team: bench, tier: web}}}}
spec:
  model: {{format: simulated, version: v1, params: {{latencyMs: 1, a: 1, b: 2, c: 3, d: 4}}}}
  replicas: 2
  batching: {{maxBatchSize: 8, maxLatencyMs: 1}}
  resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
"""
PARAMS = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: params}}
spec:
  model:
    format: simulated
    params: {{weights: [{values}]}}
"""
SPECS = {
    "1,000 documents": "---\n".join(DOCUMENT.format(index=index) for index in range(1000)),
    "params of 10,000 values": PARAMS.format(values=", ".join(str(i % 10) for i in range(10_000))),
}
WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from modelplane.api import applying
from modelplane.spec import load_text
from modelplane.spec.loading import split_documents
text = sys.stdin.read()
times = []
for _ in range(int(sys.argv[2])):
    start = time.process_time()
    result = load_text(text, file="bench.yaml")
    assert result.ok, result.errors[:3]
    for loaded in result.objects:
        applying.prepare(loaded, None, base_dir=None)
    times.append(time.process_time() - start)
print(json.dumps(times))
"""


def values(text: str) -> int:
    """Scalars the spec writes (keys and values): the unit of the per-value cost."""
    import yaml

    count = 0
    for document in yaml.compose_all(text):
        stack = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.ScalarNode):
                count += 1
            elif isinstance(node, yaml.MappingNode):
                stack.extend(item for pair in node.value for item in pair)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
    return count


def measure(tree: Path, text: str, repeats: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tree), str(repeats)],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    times: list[float] = json.loads(out.stdout)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", help="git revision to measure alongside the working tree")
    parser.add_argument("--rounds", type=int, default=5, help="child processes per tree and spec")
    parser.add_argument("--repeats", type=int, default=3, help="timed applies per child process")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    trees = {"this tree": ROOT}
    try:
        if args.baseline:
            base = work / "baseline"
            base.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.baseline], cwd=ROOT, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
            trees = {f"baseline {args.baseline}": base, **trees}
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for spec, text in SPECS.items():
                for label, tree in trees.items():
                    samples.setdefault((spec, label), []).extend(measure(tree, text, args.repeats))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for spec, text in SPECS.items():
        count = values(text)
        medians = {label: statistics.median(samples[(spec, label)]) for label in trees}
        first = next(iter(medians.values()))
        for label, median in medians.items():
            ratio = first / median
            rows.append(
                f"| {spec} ({count:,} values) | {label} | {median * 1000:.0f} | "
                f"{median / count * 1e6:.1f} | {ratio:.2f}x |"
            )
            print(rows[-1])
    if args.no_write:
        return
    text = (
        f"{SECTION}\n\n"
        "CPU time of what `POST /apply` runs on the event loop before storing (`load_text`, then "
        "`applying.prepare` per object; no existing objects), median of "
        f"{args.rounds} child processes × {args.repeats} applies per tree, rounds alternating. "
        "µs/value counts every scalar the spec writes (keys and values).\n\n"
        "| spec | tree | ms per apply | µs/value | speed-up vs first row |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )
    write_section(ROOT / "bench" / "RESULTS.md", SECTION, text)


if __name__ == "__main__":
    main()
