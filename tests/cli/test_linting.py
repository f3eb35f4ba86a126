"""`modelplane lint` as a user runs it, and the warnings `apply` prints for the same findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modelplane.cli import objects
from modelplane.cli.linting import lint
from modelplane.cli.objects import apply, apply_warnings
from modelplane.spec import load_path
from tests.cli.test_objects import clear_env, serve_fake_api

CLEAN = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: sklearn, uri: ./iris.joblib}
  resources: {limits: {cpu: "1", memory: 512Mi}}
  probes: {readiness: {periodSeconds: 2}}
"""

RISKY = """\
# two deployments with the seed's common mistakes
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: sentiment, namespace: production}
spec:
  model: {format: sklearn, uri: ./s.joblib}
  resources: {limits: {cpu: "1"}}
  replicas: 3
  probes: {readiness: {periodSeconds: 2}}
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: accel}
spec:
  model: {format: simulated}
"""

BAD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: x}
spec:
  model: {format: simulated
"""


@pytest.fixture
def risky(tmp_path: Path) -> Path:
    path = tmp_path / "risky.yaml"
    path.write_text(RISKY)
    return path


def test_each_finding_is_a_line_with_file_line_object_field_and_fix(risky: Path) -> None:
    result = CliRunner().invoke(lint, ["-f", str(risky)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(": ")[:3] for line in lines] == [
        [f"{risky}:2", "ModelDeployment/production/sentiment", "spec.resources.limits.memory"],
        [f"{risky}:2", "ModelDeployment/production/sentiment", "spec.disruptionBudget"],
        [f"{risky}:11", "ModelDeployment/accel", "spec.resources"],
        [f"{risky}:11", "ModelDeployment/accel", "spec.batching"],
    ]
    assert lines[0] == (
        f"{risky}:2: ModelDeployment/production/sentiment: spec.resources.limits.memory: no memory limit: "
        "one replica can take the machine's memory. Fix: set spec.resources.limits.memory, e.g. 1Gi."
    )
    assert all(" Fix: " in line for line in lines)
    assert result.stderr == "4 warnings in 2 objects.\n"


def test_strict_fails_on_any_finding(risky: Path) -> None:
    result = CliRunner().invoke(lint, ["-f", str(risky), "--strict"])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 4


def test_a_clean_directory_says_so_and_exits_0_even_with_strict(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CLEAN)
    (tmp_path / "b.yml").write_text(CLEAN.replace("iris", "other"))
    (tmp_path / "notes.txt").write_text(RISKY)  # not a spec file
    result = CliRunner().invoke(lint, ["-f", str(tmp_path), "--strict"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "No risks found in 2 objects.\n"


def test_a_directory_reports_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CLEAN)
    (tmp_path / "b.yaml").write_text(RISKY)
    result = CliRunner().invoke(lint, ["-f", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {str(tmp_path / "b.yaml")}


def test_load_errors_are_reported_like_validate_and_exit_1(tmp_path: Path, risky: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = CliRunner().invoke(lint, ["-f", str(risky), "-f", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{bad}:") and "YAML syntax error" in errors[0]
    assert errors[-1] == "1 error found."


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(lint, ["-f", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.stderr


def test_lint_needs_a_file() -> None:
    result = CliRunner().invoke(lint, [])
    assert result.exit_code == 2


# --- apply -------------------------------------------------------------------------------------


def test_apply_warnings_are_the_lint_lines_prefixed(risky: Path) -> None:
    warnings = apply_warnings(load_path(risky).objects)
    linted = CliRunner().invoke(lint, ["-f", str(risky)]).stdout.splitlines()
    assert warnings == [f"Warning: {line}" for line in linted]
    assert warnings[1].startswith(
        f"Warning: {risky}:2: ModelDeployment/production/sentiment: spec.disruptionBudget:"
    )


def test_apply_warnings_of_a_clean_file_are_none(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CLEAN)
    assert apply_warnings(load_path(tmp_path / "a.yaml").objects) == []


def test_apply_of_a_bad_file_fails_before_contacting_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(*args: object) -> None:
        raise AssertionError("apply contacted the control plane")

    monkeypatch.setattr(objects, "connect", no_server)
    bad = tmp_path / "bad.yaml"
    bad.write_text(RISKY + "---\n" + BAD)
    result = CliRunner().invoke(apply, ["-f", str(bad), "--server", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "YAML syntax error" in result.stderr
    assert result.stderr.splitlines()[-1] == "1 error found; nothing was sent to the control plane."
    assert "Warning:" not in result.stderr


def test_apply_prints_warnings_on_stderr_and_still_succeeds(
    risky: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch, tmp_path)
    with serve_fake_api() as api:
        results = [
            {"kind": "ModelDeployment", "namespace": "production", "name": "sentiment", "result": "created"},
            {"kind": "ModelDeployment", "namespace": "default", "name": "accel", "result": "created"},
        ]
        api.on("POST", "/api/v1/apply", (200, {"results": results}))
        result = CliRunner().invoke(apply, ["-f", str(risky), "--server", api.url])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "modeldeployment.modelplane.dev/sentiment created",
        "modeldeployment.modelplane.dev/accel created",
    ]
    assert result.stderr.splitlines() == apply_warnings(load_path(risky).objects)
