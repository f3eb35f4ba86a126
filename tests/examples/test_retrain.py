"""The retrain loop of examples/retrain/, run for real as the README shows it: a training Job writes
sentiment v2 from the shipped corpus, a rolling update serves it, and no request fails throughout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_training_job_then_a_rollout_to_its_model_fails_no_request(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "retrain" / "run.py"),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "RETRAIN OK" in out
    assert "job/retrain-sentiment condition met" in out
    assert "held-out accuracy: v1 recipe" in out  # the Job's own log, through `logs job/...`
    assert "retrain-sentiment   Complete   1/1" in out
    assert 'deployment "sentiment" successfully rolled out' in out
    assert "; failed: 0" in out
    assert (ROOT / "examples" / "models" / "sentiment-v2" / "model.skops").is_file()
