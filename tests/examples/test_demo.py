"""`make demo`'s main job, run for real: examples/demo.py starts the control plane and the router,
applies the shipped specs, sends real sentences and rows through the router, checks every answer and
stops everything; it must exit 0. `--mode serve` does the same against one `modelplane serve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_answers_real_nlp_requests(tmp_path: Path) -> None:
    done = subprocess.run(
        # the spike at its end has its own test (test_spike.py)
        [
            sys.executable,
            str(ROOT / "examples" / "demo.py"),
            "--state-dir",
            str(tmp_path / "state"),
            "--no-spike",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "DEMO OK" in out
    assert "embedding dimension: 384" in out
    assert "64/64 concurrent requests completed correctly" in out
    assert "requests go through the router" in out
    assert "sentiment-" in out and "Running" in out  # `get replicas`
    assert "stopped: replicas, control plane, router." in out


def test_a_server_that_cannot_start_fails_the_demo(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: x}\n"
        "spec:\n  model: {uri: ./nothing-here.joblib, format: sklearn}\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--mode", "serve", "--spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "nothing-here.joblib" in out
