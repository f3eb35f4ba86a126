"""`make demo`'s last step, run for real: bench/spike.py --short starts the control plane, applies
examples/spike/spike.yaml (three simulated models at 2 replicas, autoscaled 2..20), offers a steady
load, 10x for 20 s, then the steady load again, and writes the loadtest report, its plot and a summary.
The autoscaler must have asked for more replicas; the numbers themselves are bench/RESULTS.md's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_short_spike_scales_up_and_writes_its_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "spike.py"), "--short", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = tmp_path.glob("spike-*-summary.json")
    (run,) = json.loads(summary.read_text())["modelplane"]
    assert sorted(run["models"]) == ["embed", "intent", "sentiment"]
    assert all(model["peak_ready"] > 2 for model in run["models"].values())
    (report,) = tmp_path.glob("spike-*-modelplane-1.json")
    assert report.with_suffix(".png").stat().st_size > 0
    assert "plot: " in done.stdout
