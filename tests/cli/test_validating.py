"""`modelplane validate` and `modelplane schema`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelplane.cli.validating import schema, validate

GOOD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: sklearn, uri: ./iris.joblib}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel, namespace: staging}
spec:
  model: {format: simulated, params: {latencyMs: 20}}
  batching: {maxBatchSize: 32, maxLatencyMs: 5}
"""

BAD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment}
spec:
  model: {format: sklearn, uri: ./s.joblib}
  resources:
    limits: {gpu: 0.5}
  traffic: [{version: v1, weight: 90}]
---
apiVersion: modelplane.dev/v1alpha1
kind: Pod
metadata: {name: p}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    return tmp_path


def test_valid_file_prints_a_summary_and_exits_0(files: Path) -> None:
    result = CliRunner().invoke(validate, ["-f", str(files / "good.yaml")])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"{files / 'good.yaml'}: 2 objects valid (ModelDeployment/iris, ModelDeployment/staging/accel)\n"
    )


def test_every_error_on_its_own_line_and_exit_1(files: Path) -> None:
    result = CliRunner().invoke(validate, ["-f", str(files / "bad.yaml")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    bad = files / "bad.yaml"
    assert lines == [
        f"{bad}:7: ModelDeployment/sentiment: spec.resources.limits.gpu: "
        "GPUs are whole devices; got 0.5. Use a whole number such as 1.",
        f"{bad}:8: ModelDeployment/sentiment: spec.traffic: "
        "traffic weights must sum to 100; they sum to 90 (90).",
        f"{bad}:11: Pod/p: unknown kind 'Pod'; modelplane knows Namespace, NodePool, ModelDeployment, Job.",
        "3 errors found.",
    ]
    assert result.stdout == ""


def test_several_files_and_directories(files: Path) -> None:
    result = CliRunner().invoke(validate, ["-f", str(files / "good.yaml"), "-f", str(files)])
    assert result.exit_code == 1
    assert "defined twice" in result.stderr  # good.yaml is named twice: once alone, once in the directory


def test_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(validate, ["-f", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.output


def test_binary_garbage_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    result = CliRunner().invoke(validate, ["-f", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_needs_a_file() -> None:
    result = CliRunner().invoke(validate, [])
    assert result.exit_code == 2
    assert "Missing option '-f'" in result.output


def test_schema_prints_one_json_schema_over_the_kinds() -> None:
    result = CliRunner().invoke(schema, [])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in document["oneOf"]} == {
        "Namespace",
        "NodePool",
        "ModelDeployment",
        "Job",
    }


def test_schema_of_one_kind() -> None:
    result = CliRunner().invoke(schema, ["--kind", "modeldeployment"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "ModelDeployment"
    result = CliRunner().invoke(schema, ["--kind", "Pod"])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [validate, schema])
def test_help(command: object) -> None:
    result = CliRunner().invoke(command, ["--help"])  # type: ignore[arg-type]
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_the_installed_command(files: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "modelplane.cli.main", "validate", "-f", str(files / "bad.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert "spec.resources.limits.gpu" in run.stderr
    assert "Traceback" not in run.stderr
