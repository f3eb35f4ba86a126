"""Job: batch/v1 defaults and validation."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.spec import Job, RestartPolicy
from tests.spec._docs import API, only_error, valid


def job(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"command": ["python", "train.py"], **(spec or {})},
    }


def test_batch_v1_defaults() -> None:
    obj = valid(job())
    assert isinstance(obj, Job)
    spec = obj.spec
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (1, 1, 6)
    assert spec.active_deadline_seconds is None
    assert spec.ttl_seconds_after_finished is None
    assert spec.restart_policy is RestartPolicy.NEVER
    assert spec.termination_grace_period_seconds == 30


def test_design_example_resources_default_requests_from_gpu_limits() -> None:
    spec = valid(job({"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"gpu": 1}}})).spec
    assert spec.resources.requests.gpu == 1
    assert spec.resources.requests.cpu_millis == 1000


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"command": []}, "spec.command"),
        ({"completions": 0}, "spec.completions"),
        ({"backoffLimit": -1}, "spec.backoffLimit"),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds"),
        ({"restartPolicy": "Always"}, "spec.restartPolicy"),
        ({"command": ["sleep", 10]}, "spec.command[1]"),
    ],
)
def test_job_validation(spec: dict[str, Any], path: str) -> None:
    assert only_error(job(spec)).path == path


def test_numbers_in_commands_must_be_quoted() -> None:
    error = only_error(job({"command": ["sleep", 10]}))
    assert 'Quote it: "10"' in error.message


@pytest.mark.parametrize(
    ("spec", "path", "says"),
    [
        # each passed validation, then a NUL or an '=' in a name made the process start raise ValueError
        # (not OSError) in the node agent, and a NUL in workingDir made apply raise (a 500)
        ({"command": ["python", "train\x00.py"]}, "spec.command[1]", "control character"),
        ({"workingDir": "runs\x00"}, "spec.workingDir", "control character"),
        ({"env": {"SEED": "4\x002"}}, "spec.env.SEED", "control character"),
        ({"env": {"A=B": "1"}}, "spec.env", "'A=B'"),
        ({"env": {"": "1"}}, "spec.env", "''"),
    ],
)
def test_what_a_process_cannot_be_started_with_is_refused(spec: dict[str, Any], path: str, says: str) -> None:
    error = only_error(job(spec))
    assert error.path == path, error
    assert says in error.message, error


def test_kubernetes_env_names_and_values_are_accepted() -> None:
    env = {"SEED": "42", "my.var-name_2": "a b", "PATH": "/usr/bin:/bin", "JSON": '{"x": [1, "="]}'}
    assert valid(job({"env": env, "workingDir": "runs/today"})).spec.env == env
